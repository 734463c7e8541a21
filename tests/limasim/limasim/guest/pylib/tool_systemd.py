"""systemctl / hostnamectl / journalctl stand-ins (state only: no unit process is started)."""

import os
import socket
import sys
import time

import standin
from standin import SYSTEMD_DB, load_json, locked, save_json, unit_name

UNIT_DIRS = ["/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
             "/usr/lib/systemd/system", "/lib/systemd/system"]
MUTATING = {"start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "try-reload-or-restart",
            "enable", "disable", "reenable", "mask", "unmask", "daemon-reload", "reset-failed", "kill",
            "preset", "isolate", "daemon-reexec", "set-property", "revert"}


def out(s=""):
    sys.stdout.write(s + "\n")


def err(s):
    sys.stderr.write(s + "\n")


def unit_file(u, user_mode=False):
    dirs = UNIT_DIRS
    if user_mode:
        home = os.environ.get("HOME", "")
        dirs = [os.path.join(home, ".config/systemd/user"), "/etc/systemd/user", "/usr/lib/systemd/user"]
    for d in dirs:
        p = os.path.join(d, u)
        if os.path.exists(p):
            return p
    return None


def description(u, path):
    if path:
        try:
            for ln in open(path):
                if ln.startswith("Description="):
                    return ln.split("=", 1)[1].strip()
        except OSError:
            pass
    return u


def db_path(user_mode):
    return SYSTEMD_DB if not user_mode else os.path.join(standin.STATE_DIR, "systemd-user-%d.json" % os.getuid())


def systemctl_main(argv):
    user_mode = False
    quiet = False
    now = False
    value = False
    props = []
    verb = None
    units = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--user":
            user_mode = True
        elif a == "--system":
            user_mode = False
        elif a in ("-q", "--quiet"):
            quiet = True
        elif a == "--now":
            now = True
        elif a == "--value":
            value = True
        elif a in ("-p", "--property"):
            props += argv[i].split(",")
            i += 1
        elif a.startswith("--property="):
            props += a.split("=", 1)[1].split(",")
        elif a.startswith("-P"):
            props += (a[2:] or argv[i]).split(",")
            value = True
            if not a[2:]:
                i += 1
        elif a.startswith("-"):
            continue  # --no-pager, --no-block, --no-legend, --plain, --type=, --state=, --full ...
        elif verb is None:
            verb = a
        else:
            units.append(a)
    verb = verb or "list-units"
    if verb == "--version":
        out("systemd 257 (limasim)")
        return 0
    if verb in MUTATING and os.geteuid() != 0 and not user_mode:
        what = {"start": "start", "stop": "stop", "restart": "restart", "enable": "enable unit",
                "disable": "disable unit"}.get(verb, verb)
        tgt = unit_name(units[0]) if units else ""
        err("Failed to %s %s: Access denied" % (what, tgt) if tgt else "Failed to %s: Access denied" % what)
        return 4
    units = [unit_name(u) for u in units]
    with locked(db_path(user_mode) + ".lock"):
        db = load_json(db_path(user_mode), {"units": {}})
        db.setdefault("units", {})
        rc = dispatch(db, verb, units, quiet, now, value, props, user_mode)
        if verb in MUTATING:
            save_json(db_path(user_mode), db)
    return rc


def known(db, u, user_mode):
    return u in db["units"] or unit_file(u, user_mode) is not None


def st(db, u):
    return db["units"].setdefault(u, {"enabled": False, "active": "inactive"})


def dispatch(db, verb, units, quiet, now, value, props, user_mode):
    failing = set(unit_name(u) for u in (standin.sim_config().get("failing_units") or []))
    if verb in ("start", "restart", "reload", "try-restart", "reload-or-restart", "try-reload-or-restart"):
        for u in units:
            if not known(db, u, user_mode):
                err("Failed to %s %s: Unit %s not found." % (verb, u, u))
                return 5
            s = st(db, u)
            if s.get("masked"):
                err("Failed to %s %s: Unit %s is masked." % (verb, u, u))
                return 1
            if verb == "try-restart" and s["active"] != "active":
                continue
            if u in failing:
                s["active"] = "failed"
                standin.journal_append(u, "%s: Failed with result 'exit-code'." % u, "systemd")
                err('Job for %s failed because the control process exited with error code.\nSee "systemctl '
                    'status %s" and "journalctl -xeu %s" for details.' % (u, u, u))
                return 1
            s["active"] = "active"
            s["since"] = time.time()
            standin.journal_append(u, "Started %s." % description(u, unit_file(u, user_mode)), "systemd")
        return 0
    if verb == "stop" or verb == "kill":
        for u in units:
            if not known(db, u, user_mode) and verb == "stop":
                err("Failed to stop %s: Unit %s not loaded." % (u, u))
                return 5
            s = st(db, u)
            if s["active"] == "active":
                standin.journal_append(u, "Stopped %s." % description(u, unit_file(u, user_mode)), "systemd")
            s["active"] = "inactive"
        return 0
    if verb in ("enable", "reenable", "disable", "preset"):
        for u in units:
            path = unit_file(u, user_mode)
            if path is None and u not in db["units"]:
                err("Failed to %s unit: Unit file %s does not exist." % ("disable" if verb == "disable" else
                                                                         "enable", u))
                return 1
            s = st(db, u)
            if verb == "disable":
                if s.get("enabled"):
                    err("Removed \"/etc/systemd/system/multi-user.target.wants/%s\"." % u)
                s["enabled"] = False
                if now:
                    s["active"] = "inactive"
            else:
                if not s.get("enabled"):
                    err("Created symlink '/etc/systemd/system/multi-user.target.wants/%s' → '%s'." % (u, path or u))
                s["enabled"] = True
                if now:
                    rc = dispatch(db, "start", [u], quiet, False, value, props, user_mode)
                    if rc:
                        return rc
        return 0
    if verb in ("mask", "unmask"):
        for u in units:
            st(db, u)["masked"] = verb == "mask"
        return 0
    if verb in ("daemon-reload", "daemon-reexec"):
        return 0
    if verb == "reset-failed":
        for u, s in db["units"].items():
            if (not units or u in units) and s.get("active") == "failed":
                s["active"] = "inactive"
        return 0
    if verb == "is-active":
        any_active = False
        for u in units:
            s = db["units"].get(u, {})
            state = s.get("active", "inactive")
            any_active |= state == "active"
            if not quiet:
                out(state)
        return 0 if any_active else 3
    if verb == "is-failed":
        anyf = False
        for u in units:
            state = db["units"].get(u, {}).get("active", "inactive")
            anyf |= state == "failed"
            if not quiet:
                out(state)
        return 0 if anyf else 1
    if verb == "is-enabled":
        any_en = False
        for u in units:
            if not known(db, u, user_mode):
                err("Failed to get unit file state for %s: No such file or directory" % u)
                return 1
            s = db["units"].get(u, {})
            state = "masked" if s.get("masked") else ("enabled" if s.get("enabled") else "disabled")
            any_en |= state == "enabled"
            if not quiet:
                out(state)
        return 0 if any_en else 1
    if verb == "status":
        rc = 0
        for u in units or sorted(db["units"]):
            if not known(db, u, user_mode):
                err("Unit %s could not be found." % u)
                return 4
            s = db["units"].get(u, {})
            path = unit_file(u, user_mode)
            active = s.get("active", "inactive")
            out("%s %s - %s" % ("●" if active == "active" else "○", u, description(u, path)))
            out("     Loaded: loaded (%s; %s; preset: disabled)" % (path or "/etc/systemd/system/" + u,
                                                                     "enabled" if s.get("enabled") else "disabled"))
            out("     Active: %s%s" % (active, " (running)" if active == "active" else " (dead)"))
            rc = rc or (0 if active == "active" else 3)
        return rc
    if verb == "show":
        u = units[0] if units else None
        s = db["units"].get(u, {}) if u else {}
        path = unit_file(u, user_mode) if u else None
        active = s.get("active", "inactive")
        allp = {
            "Id": u or "", "Names": u or "", "Description": description(u, path) if u else "",
            "LoadState": "loaded" if u and known(db, u, user_mode) else "not-found",
            "ActiveState": active, "SubState": {"active": "running", "failed": "failed"}.get(active, "dead"),
            "UnitFileState": ("masked" if s.get("masked") else "enabled" if s.get("enabled") else "disabled")
            if u and known(db, u, user_mode) else "",
            "FragmentPath": path or "", "MainPID": "0", "Result": "exit-code" if active == "failed" else "success",
            "ActiveEnterTimestamp": time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(s["since"]))
            if s.get("since") and active == "active" else "",
            "ExecMainStatus": "1" if active == "failed" else "0",
        }
        for p in props or list(allp):
            v = allp.get(p, "")
            out(v if value else "%s=%s" % (p, v))
        return 0
    if verb in ("list-units", "list-unit-files"):
        for u in sorted(db["units"]):
            s = db["units"][u]
            if verb == "list-units":
                if s.get("active") == "inactive":
                    continue
                out("%-40s loaded %-8s %-8s %s" % (u, s.get("active"), "running" if s.get("active") == "active"
                                                    else "failed", description(u, unit_file(u, user_mode))))
            else:
                out("%-40s %s" % (u, "enabled" if s.get("enabled") else "disabled"))
        return 0
    if verb == "cat":
        for u in units:
            p = unit_file(u, user_mode)
            if not p:
                err("No files found for %s." % u)
                return 1
            out("# " + p)
            sys.stdout.write(open(p).read())
        return 0
    err("Unknown command verb '%s'." % verb)
    return 1


# ------------------------------------------------------------------------------------------


def hostnamectl_main(argv):
    args = [a for a in argv if not a.startswith("-")]
    if not args or args[0] == "status":
        h = socket.gethostname()
        out(" Static hostname: %s" % (open("/etc/hostname").read().strip() if os.path.exists("/etc/hostname") else h))
        out("       Icon name: computer-vm")
        out("         Chassis: vm 🖴")
        out("      Machine ID: %s" % (open("/etc/machine-id").read().strip() if os.path.exists("/etc/machine-id")
                                      else "0" * 32))
        out("  Virtualization: kvm")
        out("Operating System: Fedora Linux 44 (Cloud Edition)")
        out("          Kernel: Linux %s" % os.uname().release)
        out("    Architecture: %s" % {"x86_64": "x86-64", "aarch64": "arm64"}.get(os.uname().machine,
                                                                                  os.uname().machine))
        return 0
    verb = args[0]
    if verb in ("set-hostname", "hostname") and len(args) >= 2:
        name = args[1]
        if os.geteuid() != 0:
            err("Could not set static hostname: Access denied")
            return 1
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            err("Invalid static hostname '%s'" % name)
            return 1
        socket.sethostname(name)
        with open("/etc/hostname", "w") as f:
            f.write(name + "\n")
        standin.set_hosts_entry(name)
        return 0
    if verb == "hostname":
        out(socket.gethostname())
        return 0
    if verb in ("set-icon-name", "set-chassis", "set-deployment", "set-location"):
        if os.geteuid() != 0:
            err("Could not set property: Access denied")
            return 1
        return 0
    err("Unknown command verb '%s'." % verb)
    return 1


def journalctl_main(argv):
    units = []
    lines = None
    follow = False
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("-u", "--unit"):
            units.append(argv[i])
            i += 1
        elif a.startswith("--unit="):
            units.append(a.split("=", 1)[1])
        elif a.startswith("-u") and len(a) > 2:
            units.append(a[2:])
        elif a in ("-n", "--lines"):
            lines = argv[i]
            i += 1
        elif a.startswith("--lines="):
            lines = a.split("=", 1)[1]
        elif a.startswith("-n") and len(a) > 2:
            lines = a[2:]
        elif a in ("-f", "--follow"):
            follow = True
        elif a in ("--since", "-S", "--until", "-U", "-o", "--output", "-p", "--priority", "-t", "-b", "--boot",
                   "-g", "--grep", "-I", "--identifier"):
            if a in ("-b", "--boot") and (i >= len(argv) or argv[i].startswith("-")):
                continue
            i += 1
        # --no-pager, -e, -x, -q, --no-hostname, ... are accepted and ignored
    if os.geteuid() != 0:
        try:
            import grp
            groups = {grp.getgrgid(g).gr_name for g in os.getgroups()}
        except (KeyError, ImportError):
            groups = set()
        if not groups & {"adm", "wheel", "systemd-journal"}:
            err("Hint: You are currently not seeing messages from other users and the system.\n"
                "      Users in groups 'adm', 'systemd-journal', 'wheel' can see all messages.\n"
                "      Pass -q to turn off this notice.")
            out("-- No entries --")
            return 0
    files = []
    jd = standin.JOURNAL_DIR
    if units:
        files = [os.path.join(jd, unit_name(u) + ".log") for u in units]
    elif os.path.isdir(jd):
        files = [os.path.join(jd, f) for f in sorted(os.listdir(jd)) if f.endswith(".log")]
    entries = []
    for f in files:
        try:
            entries += open(f, encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            pass
    if lines is not None and lines != "all":
        try:
            n = int(str(lines).lstrip("+"))
            entries = entries[-n:] if n > 0 else []
        except ValueError:
            err("Failed to parse lines '%s'." % lines)
            return 1
    if not entries and not follow:
        out("-- No entries --")
        return 0
    for e in entries:
        out(e)
    if follow:
        sys.stdout.flush()
        sizes = {f: (os.path.getsize(f) if os.path.exists(f) else 0) for f in files}
        while True:
            time.sleep(0.5)
            for f in files:
                try:
                    sz = os.path.getsize(f)
                except OSError:
                    continue
                if sz > sizes[f]:
                    with open(f, "rb") as fh:
                        fh.seek(sizes[f])
                        sys.stdout.write(fh.read().decode(errors="replace"))
                        sys.stdout.flush()
                    sizes[f] = sz
    return 0
