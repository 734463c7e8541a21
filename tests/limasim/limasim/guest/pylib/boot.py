"""Guest boot, run as root inside the sandbox by the host agent at every `start`.

Reads a JSON boot plan on stdin, prints a JSON result on stdout, logs to stderr.
Plays the part of cloud-init + Lima's boot.sh: /usr overlay, users, sudoers, hostname,
runtime directories, stand-in state, then the lima.yaml `provision` scripts.
"""

import grp
import json
import os
import pwd
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402

LOG = "/var/log/cloud-init-output.log"
STANDIN_BIN = "/.limasim/guest/bin"
PKG_FALLBACK_BIN = "/var/lib/limasim/pkgbin"
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def say(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def run(argv, check=True, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(argv), r.returncode,
                                                       r.stderr.decode(errors="replace").strip()))
    return r


def log_line(fh, msg):
    fh.write(("LIMA %s| %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S%z"), msg)).encode())
    fh.flush()


def setup_usr():
    """Writable /usr: overlay (host /usr as lower layer, per-instance upper layer).
    Falls back to a read-only /usr remounted with suid when overlayfs is unavailable."""
    overlay = False
    r = run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=/usr,upperdir=/.limasim/usr-layer/upper,workdir=/.limasim/usr-layer/work", "/usr"],
            check=False)
    if r.returncode == 0:
        overlay = True
    else:
        say("limasim: overlayfs unavailable (%s); /usr stays read-only"
            % r.stderr.decode(errors="replace").strip())
        # bwrap binds nosuid; sudo needs suid on /usr.
        run(["mount", "-o", "remount,bind,ro,suid,dev", "/usr"])
    run(["mount", "--bind", "/.limasim/usr-local", "/usr/local"])
    return overlay


def setup_runtime(hostname):
    os.chmod("/tmp", 0o1777)
    try:
        os.chmod("/dev/shm", 0o1777)
    except OSError:
        pass
    for d, m in (("/run/lock", 0o1777), ("/run/user", 0o755), ("/run/lima-provision", 0o755),
                 ("/run/limasim", 0o755)):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, m)
    open("/run/utmp", "a").close()
    # Keep the hostname resolvable (a Fedora guest resolves it through nss-myhostname;
    # without that, sudo prints "unable to resolve host").
    standin.set_hosts_entry(hostname)


def ensure_user(u, pubkey):
    name, uid, home, shell = u["name"], int(u["uid"]), u["home"], u["shell"]
    created = False
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        pw = None
    if pw is None:
        try:
            grp.getgrnam(name)
            have_group = True
        except KeyError:
            have_group = False
        if not have_group:
            gid_free = True
            try:
                grp.getgrgid(uid)
                gid_free = False
            except KeyError:
                pass
            run(["groupadd"] + (["-g", str(uid)] if gid_free else []) + [name])
        uid_free = True
        try:
            pwd.getpwuid(uid)
            uid_free = False
        except KeyError:
            pass
        os.makedirs(os.path.dirname(home.rstrip("/")) or "/", exist_ok=True)
        run(["useradd", "-m", "-d", home, "-s", shell, "-c", u.get("comment") or "", "-g", name]
            + (["-u", str(uid)] if uid_free else []) + [name])
        pw = pwd.getpwnam(name)
        created = True
        os.chmod(pw.pw_dir, 0o700)  # Fedora's HOME_MODE (Debian's useradd would leave 0755)
    if not os.path.isdir(pw.pw_dir) and pw.pw_dir.startswith("/"):
        os.makedirs(pw.pw_dir, exist_ok=True)
        os.chown(pw.pw_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(pw.pw_dir, 0o700)
    if pubkey and pw.pw_uid != 0:
        ssh = os.path.join(pw.pw_dir, ".ssh")
        ak = os.path.join(ssh, "authorized_keys")
        if not os.path.exists(ak):
            os.makedirs(ssh, exist_ok=True)
            with open(ak, "w") as f:
                f.write(pubkey.strip() + "\n")
            for p, m in ((ssh, 0o700), (ak, 0o600)):
                os.chown(p, pw.pw_uid, pw.pw_gid)
                os.chmod(p, m)
    sudoers = "/etc/sudoers.d/90-lima-users"
    if u.get("passwordlessSudo", True):
        with open(sudoers, "w") as f:
            f.write("# Created by limasim (Lima: cloud-init users)\n%s ALL=(ALL) NOPASSWD:ALL\n" % name)
        os.chmod(sudoers, 0o440)
    elif os.path.exists(sudoers):
        os.unlink(sudoers)
    rd = "/run/user/%d" % pw.pw_uid
    os.makedirs(rd, exist_ok=True)
    os.chown(rd, pw.pw_uid, pw.pw_gid)
    os.chmod(rd, 0o700)
    return pw, created


def setup_limasim_paths():
    with open("/etc/sudoers.d/00-limasim", "w") as f:
        f.write('# limasim: stand-ins (dnf5, systemctl, curl, ...) first, package stubs last\n'
                'Defaults secure_path="%s:%s:%s"\n' % (STANDIN_BIN, ROOT_PATH, PKG_FALLBACK_BIN))
    os.chmod("/etc/sudoers.d/00-limasim", 0o440)
    with open("/etc/profile.d/00-limasim.sh", "w") as f:
        f.write(
            "# limasim: put the recording stand-ins first on PATH (after the user's own bin dirs,\n"
            "# as Fedora's ~/.bashrc does) and the fallback package stub dir last.\n"
            'case ":$PATH:" in *":%s:"*) ;; *) PATH="%s:$PATH:%s" ;; esac\n'
            'case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) PATH="$HOME/.local/bin:$HOME/bin:$PATH" ;; esac\n'
            "export PATH\n" % (STANDIN_BIN, STANDIN_BIN, PKG_FALLBACK_BIN))
    os.chmod("/etc/profile.d/00-limasim.sh", 0o644)
    setup_zprofile()
    for d, m in (("/var/log/limasim", 0o1777), ("/var/lib/limasim", 0o755), (PKG_FALLBACK_BIN, 0o755),
                 ("/var/log/limasim/journal", 0o1777)):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, m)


# Fedora's zsh package ships /etc/zprofile, which makes every zsh login shell read /etc/profile
# (and with it /etc/profile.d/*.sh) in ksh emulation. The guest runs the host's zsh (when the
# host has one, the dnf5 stand-in makes no stub for it), and e.g. Debian's reads
# /etc/zsh/zprofile, which does not: without this, a guest user whose login shell is zsh gets
# sshd's bare PATH in `limactl shell`, i.e. the host's real curl/systemctl, no rpm/dnf5 at all.
ZPROFILE_FILES = ("/etc/zprofile", "/etc/zsh/zprofile")  # zsh's etcdir: Fedora/upstream, Debian/Arch
ZPROFILE_BEGIN, ZPROFILE_END = "# BEGIN limasim: as Fedora's /etc/zprofile", "# END limasim"
ZPROFILE_BLOCK = """\
_limasim_src_etc_profile()
{
    emulate -L ksh
    if [ -f /etc/profile ]; then
        source /etc/profile
    fi
}
_limasim_src_etc_profile
unset -f _limasim_src_etc_profile
"""


def setup_zprofile():
    for path in ZPROFILE_FILES:
        try:
            old = open(path).read()
        except FileNotFoundError:
            old = None
        lines = (old or "").splitlines()
        if ZPROFILE_BEGIN in lines and ZPROFILE_END in lines[lines.index(ZPROFILE_BEGIN):]:
            b = lines.index(ZPROFILE_BEGIN)
            lines = lines[:b] + lines[lines.index(ZPROFILE_END, b) + 1:]
        lines += [ZPROFILE_BEGIN] + ZPROFILE_BLOCK.splitlines() + [ZPROFILE_END]
        text = "".join(ln + "\n" for ln in lines)
        if text == old:
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)


def write_environment(env):
    path = "/etc/environment"
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        lines = []
    begin, end = "# BEGIN lima env", "# END lima env"
    if begin in lines and end in lines:
        lines = lines[:lines.index(begin)] + lines[lines.index(end) + 1:]
    if env:
        block = [begin] + ["%s=%s" % (k, v) for k, v in env.items()] + [end]
        lines += block
    with open(path, "w") as f:
        f.write("".join(ln + "\n" for ln in lines))


def render(text, vars_):
    def sub(m):
        key = m.group(1)
        if key.startswith("Param."):
            return str(vars_["params"].get(key[6:], m.group(0)))
        return str(vars_.get(key, m.group(0)))
    return re.sub(r"\{\{\s*\.([\w.]+)\s*\}\}", sub, text)


def provision(plan, pw, log):
    vars_ = {"Home": pw.pw_dir, "Name": plan["instance"], "Hostname": plan["hostname"],
             "UID": str(pw.pw_uid), "User": pw.pw_name, "GlobalTempDir": "/tmp", "params": plan.get("params") or {}}
    env = {"PATH": STANDIN_BIN + ":" + ROOT_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
           "LANG": "C.UTF-8", "LIMA_CIDATA_NAME": plan["instance"], "LIMA_CIDATA_USER": pw.pw_name,
           "LIMA_CIDATA_UID": str(pw.pw_uid), "LIMA_CIDATA_HOME": pw.pw_dir}
    for k, v in (plan.get("params") or {}).items():
        env["PARAM_" + k] = str(v)
    results = []
    entries = list(enumerate(plan.get("provision") or []))
    order = ["boot", "data", "dependency", "system", "user", "yq", "ansible"]
    entries.sort(key=lambda e: (order.index(e[1].get("mode") or "system")
                                if (e[1].get("mode") or "system") in order else 99, e[0]))
    for i, p in entries:
        mode = p.get("mode") or "system"
        if mode == "data":
            results.append({"index": i, "mode": mode, "exit_code": provision_data(p, vars_, log)})
            continue
        if mode in ("yq", "ansible"):
            log_line(log, "WARNING: provision mode %s is not simulated by limasim (provision[%d] skipped)"
                     % (mode, i))
            results.append({"index": i, "mode": mode, "exit_code": None, "skipped": True})
            continue
        script = p.get("script")
        if script is None:
            log_line(log, "WARNING: provision[%d] has no script (file: is not simulated)" % i)
            results.append({"index": i, "mode": mode, "exit_code": None, "skipped": True})
            continue
        script = render(str(script), vars_)
        path = "/run/lima-provision/provision.%s-%08d" % (mode, i)
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o755)
        shown = "/mnt/lima-cidata/provision.%s/%08d" % (mode, i)
        if mode == "user":
            os.chown(path, pw.pw_uid, pw.pw_gid)
            preserve = ",".join("PARAM_" + k for k in (plan.get("params") or {}))
            argv = ["sudo", "-iu", pw.pw_name] + (["--preserve-env=" + preserve] if preserve else []) + [path]
            log_line(log, "Executing %s (as user %s)" % (shown, pw.pw_name))
        else:
            argv = ["/bin/bash", "-c", '"$0"', path]
            log_line(log, "Executing %s" % shown)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd="/")
        if r.returncode != 0:
            log_line(log, "WARNING: Failed to execute %s" % shown)
        results.append({"index": i, "mode": mode, "exit_code": r.returncode})
    return results


def provision_data(p, vars_, log):
    path = p.get("path")
    try:
        if os.path.exists(path) and p.get("overwrite") is False:
            return 0
        content = render(str(p.get("content") or ""), vars_)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, int(str(p.get("permissions") or "644"), 8))
        owner = str(p.get("owner") or "root:root")
        user, _, group = owner.partition(":")
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group or user).gr_gid)
        log_line(log, "Wrote %s (provision mode data)" % path)
        return 0
    except Exception as e:  # noqa: BLE001 - reported, not fatal, as in Lima
        log_line(log, "WARNING: provision data %s failed: %s" % (path, e))
        return 1


def main():
    plan = json.load(sys.stdin)
    result = {}
    result["usr_overlay"] = setup_usr()
    setup_runtime(plan["hostname"])
    setup_limasim_paths()
    pw, created = ensure_user(plan["user"], plan.get("pubkey"))
    result["user_created"] = created
    result["user"] = {"name": pw.pw_name, "uid": pw.pw_uid, "gid": pw.pw_gid, "home": pw.pw_dir}
    write_environment(plan.get("env") or {})
    standin.on_boot(result["usr_overlay"])
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with os.fdopen(fd, "ab", buffering=0) as log:
        log_line(log, "limasim boot #%d of %s (%s)" % (plan.get("boot_count", 1), plan["instance"],
                                                       plan["hostname"]))
        result["provision"] = provision(plan, pw, log)
        log_line(log, "Exiting with code 0")
    with open("/run/lima-boot-done", "w"):
        pass
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
