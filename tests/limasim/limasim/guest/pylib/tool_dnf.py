"""dnf5 / rpm stand-ins: an installed-package database instead of real packages.

Installing a package whose commands are missing from the guest creates small recording
stub commands (in /usr/bin via the /usr overlay, else /var/lib/limasim/pkgbin)."""

import os
import re
import shutil
import sys
import urllib.parse

import standin
from standin import RPMDB, load_json, locked, save_json

ROOT_MSG = "This command has to be run with superuser privileges (under the root user on most systems)."
DNF_VERSION = "5.2.13.0"
DEFAULT_REPOS = {"fedora": "Fedora 44 - x86_64", "updates": "Fedora 44 - x86_64 - Updates"}
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WRITE_CMDS = {"install", "in", "reinstall", "upgrade", "update", "up", "remove", "rm", "erase", "swap",
              "distro-sync", "autoremove", "config-manager", "makecache", "clean", "downgrade"}


def out(s=""):
    sys.stdout.write(s + "\n")


def err(s):
    sys.stderr.write(s + "\n")


class Opts:
    def __init__(self):
        self.yes = False
        self.assumeno = False
        self.quiet = False
        self.refresh = False
        self.skip_unavailable = False
        self.cmd = None
        self.args = []
        self.cmd_opts = []


GLOBAL_BOOL = {"-y": "yes", "--assumeyes": "yes", "--assumeno": "assumeno", "-q": "quiet", "--quiet": "quiet",
               "--refresh": "refresh", "--skip-unavailable": "skip_unavailable"}
GLOBAL_IGNORED_BOOL = {"-C", "--cacheonly", "--best", "--no-best", "--nobest", "--allowerasing", "--nogpgcheck",
                       "--no-gpgchecks", "--skip-broken", "--no-docs", "--use-host-config", "-v", "--verbose",
                       "--no-plugins", "--show-new-leaves", "--dump-repo-config", "--no-best",
                       "--installed", "--available", "--upgrades", "--all", "--overwrite", "--create-missing-dir"}
GLOBAL_WITH_VALUE = {"--setopt", "--repo", "--enablerepo", "--disablerepo", "--releasever", "--installroot",
                     "--forcearch", "--repofrompath", "--from-repo", "--exclude", "-x", "--enable-plugin",
                     "--disable-plugin", "--config", "-c", "--comment", "--id", "--set", "--from-repofile",
                     "--save-filename", "--qf", "--queryformat", "--arch", "--destdir"}


def parse(argv):
    o = Opts()
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        name, eq, val = a.partition("=")
        if a in GLOBAL_BOOL:
            setattr(o, GLOBAL_BOOL[a], True)
        elif a == "-yq" or a == "-qy":
            o.yes = o.quiet = True
        elif a in GLOBAL_IGNORED_BOOL:
            o.cmd_opts.append(a)
        elif name in GLOBAL_WITH_VALUE:
            if not eq:
                if i >= len(argv):
                    err('Missing value for argument "%s"' % name)
                    sys.exit(2)
                val = argv[i]
                i += 1
            o.cmd_opts.append((name, val))
        elif a == "--version":
            o.cmd = "--version"
        elif a in ("-h", "--help"):
            o.cmd = "--help"
        elif a.startswith("-") and a != "-":
            if o.cmd is None:
                err('Unknown argument "%s" for command "dnf5". Add "--help" for more information about the '
                    'arguments.' % a)
            else:
                err('Unknown argument "%s" for command "%s". Add "--help" for more information about the '
                    'arguments.' % (a, o.cmd))
            sys.exit(2)
        elif o.cmd is None:
            o.cmd = a
        else:
            o.args.append(a)
    return o


def opt_values(o, name):
    return [v for x in o.cmd_opts if isinstance(x, tuple) and x[0] == name for v in [x[1]]]


def loading(o):
    standin.network_round_trip()  # the repositories' metadata
    if not o.quiet:
        out("Updating and loading repositories:")
        out("Repositories loaded.")


def confirm(o):
    if o.yes:
        return True
    if o.assumeno:
        out("Operation aborted by the user.")
        return False
    sys.stdout.write("Is this ok [y/N]: ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if line.strip().lower() in ("y", "yes"):
        return True
    out("Operation aborted by the user.")
    return False


def which_real(cmd):
    """Is the command present in the guest already (ignoring the stand-in dir)?"""
    return shutil.which(cmd, path=SEARCH_PATH)


def make_stub(pkg, cmd, spec):
    d = standin.stub_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, cmd)
    body = ("#!/bin/sh\n# limasim stub command %s from package %s (records its calls)\n"
            "exec /usr/bin/python3 -I /.limasim/guest/pylib/stub.py %s %s \"$@\"\n" % (cmd, pkg, pkg, cmd))
    with open(path, "w") as f:
        f.write(body)
    os.chmod(path, 0o755)
    return path


def make_unit(unit, pkg):
    path = "/usr/lib/systemd/system/" + unit if standin.usr_overlay() else "/etc/systemd/system/" + unit
    if os.path.exists(path):
        return None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    kind = unit.rsplit(".", 1)[1]
    with open(path, "w") as f:
        f.write("# limasim: unit shipped by package %s\n[Unit]\nDescription=%s\n\n[%s]\n%s\n\n[Install]\n"
                "WantedBy=multi-user.target\n" % (pkg, unit, kind.capitalize(),
                                                  "ExecStart=/usr/bin/true" if kind == "service" else ""))
    return path


def install(o, names, reinstall=False):
    cfg = standin.sim_config()
    unavailable = set(cfg.get("unavailable_packages") or [])
    cat = standin.catalog()
    loading(o)
    with locked(RPMDB + ".lock"):
        db = load_json(RPMDB, {"packages": {}, "repos": {}})
        todo, missing, already = [], [], []
        for spec in names:
            name = pkg_name(spec)
            if name in unavailable:
                missing.append(spec)
            elif name in db["packages"] and not reinstall:
                already.append(name)
            elif name not in todo:
                todo.append(name)
        for n in already:
            out('Package "%s" is already installed.' % standin.nevra(n, db["packages"][n]))
        if missing:
            if not o.skip_unavailable:
                err("Failed to resolve the transaction:")
                for m in missing:
                    err("No match for argument: %s" % m)
                err("You can try to add to command line:\n  --skip-unavailable to skip unavailable packages")
                return 1
            for m in missing:
                err("No match for argument: %s" % m)
                err("")
        if not todo:
            out("")
            out("Nothing to do.")
            return 0
        out("Package" + " " * 25 + "Arch    Version" + " " * 16 + "Repository      Size")
        out("Reinstalling:" if reinstall else "Installing:")
        for n in todo:
            spec = cat.get(n, {})
            out(" %-30s %-7s %-22s %-12s %s" % (n, standin.ARCH, "%s-1.%s" % (spec.get("version", "1.0.0"),
                                                                                  standin.DIST),
                                              repo_for(n, db), "1.0 MiB"))
        out("")
        out("Transaction Summary:")
        out(" %-20s%d package%s" % ("Reinstalling:" if reinstall else "Installing:", len(todo),
                                      "" if len(todo) == 1 else "s"))
        out("")
        if not confirm(o):
            return 1
        for n in todo:
            spec = cat.get(n, {})
            info = {"version": spec.get("version", "1.0.0"), "release": "1", "repo": repo_for(n, db),
                    "stubs": [], "units": []}
            old = db["packages"].get(n)
            if old:
                info["stubs"] = old.get("stubs", [])
                info["units"] = old.get("units", [])
            for cmd in spec.get("commands", []):
                if which_real(cmd) is None:
                    info["stubs"].append(make_stub(n, cmd, spec))
            for unit in spec.get("units", []):
                p = make_unit(unit, n)
                if p:
                    info["units"].append(p)
            db["packages"][n] = info
            out("[%d/%d] %s 100%% |   1.0 MiB/s |   1.0 MiB |  00m00s" % (
                todo.index(n) + 1, len(todo), standin.nevra(n, info)))
        save_json(RPMDB, db)
    out("Complete!")
    return 0


def pkg_name(spec):
    if spec.startswith(("http://", "https://")) or spec.endswith(".rpm"):
        base = os.path.basename(urllib.parse.urlsplit(spec).path)
        m = re.match(r"^(.+?)-\d[^-]*-[^-]+\.[^.]+\.rpm$", base)
        return m.group(1) if m else base[:-4] if base.endswith(".rpm") else base
    return spec


def repo_for(name, db):
    for rid, r in (db.get("repos") or {}).items():
        if name.split("-")[0] in rid:
            return rid
    return "fedora"


def remove(o, names):
    loading(o)
    with locked(RPMDB + ".lock"):
        db = load_json(RPMDB, {"packages": {}, "repos": {}})
        todo = [n for n in names if n in db["packages"]]
        for n in names:
            if n not in db["packages"]:
                err("No packages to remove for argument: %s" % n)
        if len(todo) < len(names) and not o.skip_unavailable and not todo:
            out("")
            out("Nothing to do.")
            return 0
        if not todo:
            out("Nothing to do.")
            return 0
        out("Removing:")
        for n in todo:
            out(" %s" % standin.nevra(n, db["packages"][n]))
        if not confirm(o):
            return 1
        for n in todo:
            for p in db["packages"][n].get("stubs", []) + db["packages"][n].get("units", []):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            del db["packages"][n]
        save_json(RPMDB, db)
    out("Complete!")
    return 0


def upgrade(o, names):
    loading(o)
    db = load_json(RPMDB, {"packages": {}})
    bad = [n for n in names if n not in db["packages"]]
    if bad:
        err("Failed to resolve the transaction:")
        for n in bad:
            err("Packages for argument '%s' available, but not installed." % n)
        return 1
    out("Nothing to do.")
    return 0


def config_manager(o):
    if not o.args:
        err("Missing command. Add \"--help\" for more information about the arguments.")
        return 2
    sub = o.args[0]
    if sub == "addrepo":
        overwrite = "--overwrite" in o.cmd_opts
        repofiles = opt_values(o, "--from-repofile")
        os.makedirs("/etc/yum.repos.d", exist_ok=True)
        with locked(RPMDB + ".lock"):
            db = load_json(RPMDB, {"packages": {}, "repos": {}})
            if repofiles:
                for url in repofiles:
                    base = os.path.basename(urllib.parse.urlsplit(url).path) or "repo.repo"
                    dest = os.path.join("/etc/yum.repos.d", base)
                    data = fetch(url)
                    if data is None:
                        stem = base[:-5] if base.endswith(".repo") else base
                        data = ("[%s]\nname=%s (limasim synthesized from %s)\nbaseurl=%s\nenabled=1\ngpgcheck=1\n"
                                % (stem, stem, url, url.rsplit("/", 1)[0])).encode()
                    ids = re.findall(rb"^\[([^\]]+)\]", data, re.M)
                    if os.path.exists(dest) and not overwrite:
                        err('Failed to add repositories: File "%s" already exists and configures repositories '
                            'with IDs "%s". Add "--overwrite" to overwrite.'
                            % (dest, ", ".join(x.decode() for x in ids)))
                        return 1
                    with open(dest, "wb") as f:
                        f.write(data)
                    for rid in ids:
                        db.setdefault("repos", {})[rid.decode()] = {"file": dest, "source": url}
            else:
                rid = (opt_values(o, "--id") or [None])[0]
                sets = dict(s.split("=", 1) for s in opt_values(o, "--set") if "=" in s)
                if not rid and "baseurl" in sets:
                    rid = re.sub(r"[^A-Za-z0-9_.-]", "_", sets["baseurl"].split("://", 1)[-1]).strip("_")
                if not rid:
                    err("Failed to add repositories: missing --from-repofile or --set=baseurl=...")
                    return 1
                dest = "/etc/yum.repos.d/%s.repo" % rid
                if os.path.exists(dest) and not overwrite:
                    err('Failed to add repositories: File "%s" already exists and configures repositories with '
                        'IDs "%s". Add "--overwrite" to overwrite.' % (dest, rid))
                    return 1
                with open(dest, "w") as f:
                    f.write("[%s]\n" % rid + "".join("%s=%s\n" % kv for kv in sets.items()) + "enabled=1\n")
                db.setdefault("repos", {})[rid] = {"file": dest}
            save_json(RPMDB, db)
        return 0
    if sub in ("setopt", "unsetopt", "setvar", "unsetvar"):
        return 0
    err('Unknown argument "%s" for command "config-manager". Add "--help" for more information about the '
        'arguments.' % sub)
    return 2


def fetch(url):
    import json
    try:
        with open(os.path.join(standin.SIM_DIR, "downloads.json")) as f:
            idx = json.load(f)
    except (OSError, ValueError):
        return None
    ent = idx.get(url)
    if ent is None:
        return None
    fname = ent if isinstance(ent, str) else ent.get("file")
    try:
        with open(os.path.join(standin.SIM_DIR, "downloads", fname), "rb") as f:
            return f.read()
    except OSError:
        return None


def dnf_main(argv):
    o = parse(argv)
    if o.cmd == "--version":
        out("dnf5 version %s" % DNF_VERSION)
        out("dnf5 plugin API version 2.0")
        out("libdnf5 version %s" % DNF_VERSION)
        return 0
    if o.cmd in (None, "--help", "help"):
        out("Usage:\n  dnf5 [GLOBAL OPTIONS] <COMMAND> ...")
        return 0 if o.cmd else 2
    if o.cmd in WRITE_CMDS and os.geteuid() != 0:
        err(ROOT_MSG)
        return 1
    cmd = o.cmd
    if cmd in ("install", "in"):
        if not o.args:
            err('Missing positional argument "package-spec-nevra" for command "install". Add "--help" for more '
                'information about the arguments.')
            return 2
        return install(o, o.args)
    if cmd == "reinstall":
        return install(o, o.args, reinstall=True)
    if cmd in ("remove", "rm", "erase", "autoremove"):
        return remove(o, o.args)
    if cmd in ("upgrade", "update", "up", "distro-sync"):
        return upgrade(o, o.args)
    if cmd == "downgrade":
        return upgrade(o, o.args)
    if cmd in ("makecache", "check-upgrade", "check-update"):
        loading(o)
        if cmd == "makecache":
            out("Metadata cache created.")
        return 0
    if cmd == "clean":
        out("Removed 0 files, 0 directories (total of 0 B). 0 errors occurred.")
        return 0
    if cmd == "config-manager":
        return config_manager(o)
    if cmd in ("list", "info", "repoquery"):
        db = load_json(RPMDB, {"packages": {}})
        names = sorted(db["packages"])
        if o.args:
            names = [n for n in names if n in o.args]
        if not names and o.args:
            err("No matching packages to list")
            return 1
        out("Installed packages")
        for n in names:
            out("%-40s %-24s %s" % ("%s.%s" % (n, standin.ARCH),
                                    "%s-1.%s" % (db["packages"][n].get("version"), standin.DIST),
                                    db["packages"][n].get("repo", "@System")))
        return 0
    if cmd == "repolist":
        db = load_json(RPMDB, {"repos": {}})
        out("repo id                 repo name")
        for rid, name in DEFAULT_REPOS.items():
            out("%-23s %s" % (rid, name))
        for rid in sorted(db.get("repos") or {}):
            out("%-23s %s" % (rid, rid))
        return 0
    if cmd in ("search", "provides", "history", "mark", "versionlock", "group", "copr", "module", "download",
               "swap", "advisory", "repo", "environment", "leaves", "offline"):
        return 0
    err('Unknown argument "%s" for command "dnf5". Add "--help" for more information about the arguments.' % cmd)
    return 2


# ------------------------------------------------------------------------------------------
# rpm


def rpm_main(argv):
    qf = None
    quiet = False
    mode = None
    names = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("-q", "--query"):
            mode = mode or "q"
        elif a in ("-qa", "-aq"):
            mode = "qa"
        elif a == "-a" or a == "--all":
            mode = "qa"
        elif a in ("-qf", "-fq"):
            mode = "qf"
        elif a == "-f":
            mode = "qf"
        elif a in ("-e", "--erase"):
            mode = "e"
        elif a == "--import":
            mode = "import"
        elif a == "--eval":
            out(rpm_eval(argv[i] if i < len(argv) else ""))
            return 0
        elif a.startswith("--qf=") or a.startswith("--queryformat="):
            qf = a.split("=", 1)[1]
        elif a in ("--qf", "--queryformat"):
            qf = argv[i]
            i += 1
        elif a == "--quiet":
            quiet = True
        elif a == "--version":
            out("RPM version 4.20.1")
            return 0
        elif a.startswith("-"):
            continue
        else:
            names.append(a)
    db = load_json(RPMDB, {"packages": {}})
    pk = db["packages"]
    if mode == "import":
        if os.geteuid() != 0:
            err("error: %s: key 1 import failed." % (names[0] if names else "key"))
            return 1
        return 0
    if mode == "e":
        if os.geteuid() != 0:
            err("error: can't create transaction lock on /usr/lib/sysimage/rpm/.rpm.lock (Permission denied)")
            return 1
        o = Opts()
        o.yes = True
        o.quiet = True
        missing = [n for n in names if n not in pk]
        for n in missing:
            err("error: package %s is not installed" % n)
        if missing:
            return 1
        sys.stdout = open(os.devnull, "w")
        return remove(o, names)
    if mode == "qa":
        for n in sorted(pk):
            out(fmt(qf, n, pk[n]))
        return 0
    if mode == "qf":
        rc = 0
        for f in names:
            owner = None
            for n, info in pk.items():
                if f in info.get("stubs", []):
                    owner = n
            if owner:
                out(fmt(qf, owner, pk[owner]))
            else:
                out("file %s is not owned by any package" % f)
                rc = 1
        return rc
    if mode == "q":
        rc = 0
        if not names:
            err("rpm: no arguments given for query")
            return 1
        for n in names:
            if n in pk:
                if not quiet:
                    out(fmt(qf, n, pk[n]))
            else:
                if not quiet:
                    out("package %s is not installed" % n)
                rc += 1
        return rc
    err("rpm: no operation specified")
    return 1


def fmt(qf, name, info):
    if not qf:
        return standin.nevra(name, info)
    vals = {"NAME": name, "VERSION": info.get("version", "1.0.0"), "RELEASE": "1.%s" % standin.DIST,
            "ARCH": standin.ARCH, "EPOCH": "(none)"}
    s = re.sub(r"%\{(\w+)\}", lambda m: vals.get(m.group(1).upper(), "(none)"), qf)
    s = s.replace("\\n", "\n").replace("\\t", "\t")
    return s[:-1] if s.endswith("\n") else s


def rpm_eval(expr):
    vals = {"fedora": "44", "dist": "." + standin.DIST, "_arch": standin.ARCH, "_host_cpu": standin.ARCH}
    return re.sub(r"%\{\??(\w+)\}", lambda m: vals.get(m.group(1), m.group(0)), expr)
