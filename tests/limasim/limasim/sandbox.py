"""The guest sandbox: a persistent guest root per instance, run under Bubblewrap.

Design (see tests/limasim/README.md for the why):
  * `start` launches the host agent, which runs one long-lived "holder":
        bwrap --die-with-parent --unshare-{pid,ipc,uts,net} ... -- sleep infinity
    Its PID-1 reaper (reported by --info-fd) is the "driver" PID (`qemu.pid`).
  * Everything that runs "in the VM" enters that holder's namespaces with
        nsenter --target <driver pid> --mount --uts --ipc --net --pid --root
    from the (root) simulator process.  A process entered that way does not inherit
    bwrap's PR_SET_NO_NEW_PRIVS, and the boot script mounts a writable overlay over the
    nosuid bind of /usr, so setuid `sudo` works for the guest user.
  * The guest user is reached with setpriv --reuid/--regid/--init-groups and a clean
    login environment (what sshd would give), then `<login shell> -c <limactl script>`.
"""

import os
import shutil
import subprocess

from . import GUEST_DIR

GUEST_BIN = "/.limasim/guest/bin"
GUEST_PYLIB = "/.limasim/guest/pylib"
PKG_FALLBACK_BIN = "/var/lib/limasim/pkgbin"
TOOLS = ("bwrap", "nsenter", "setpriv", "mount", "sudo", "useradd")
SSHD_PATH = "/usr/local/bin:/usr/bin:/usr/local/sbin:/usr/sbin"


def which(tool):
    return shutil.which(tool, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


def probe():
    """Can the guest sandbox run here? Returns (ok, reason)."""
    if os.geteuid() != 0:
        return False, ("the guest sandbox needs root (real setuid sudo and nsenter into the holder); "
                       "running as uid %d" % os.geteuid())
    for t in TOOLS:
        if not which(t):
            return False, "%s is not installed" % t
    try:
        r = subprocess.run(
            [which("bwrap"), "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "bwrap could not run: %s" % e
    if r.returncode != 0:
        return False, "bwrap cannot create namespaces here: %s" % r.stderr.decode(errors="replace").strip()
    return True, "ok"


def mode(sim):
    """'on' or 'off' for this LIMA_HOME, raising RuntimeError when 'on' is required but impossible."""
    want = str(sim.get("sandbox") or "auto").lower()
    if want == "off":
        return "off", "disabled by _sim/config.json"
    ok, reason = probe()
    if ok:
        return "on", reason
    if want == "on":
        raise RuntimeError("guest sandbox required by _sim/config.json but unavailable: " + reason)
    return "off", reason


# --------------------------------------------------------------------------------------------
# Guest root


def guest_root(inst_dir):
    return os.path.join(inst_dir, "guest")


def _filter_accounts(etc):
    """Keep only system accounts (a fresh VM image has no host users)."""
    def keep_user(fields):
        try:
            uid = int(fields[2])
        except (IndexError, ValueError):
            return True
        return uid < 1000 or uid == 65534

    removed_users = set()
    p = os.path.join(etc, "passwd")
    if os.path.exists(p):
        lines = open(p).read().splitlines()
        kept = []
        for ln in lines:
            f = ln.split(":")
            if keep_user(f):
                kept.append(ln)
            else:
                removed_users.add(f[0])
        _rewrite(p, kept)
    removed_groups = set()
    g = os.path.join(etc, "group")
    if os.path.exists(g):
        kept = []
        for ln in open(g).read().splitlines():
            f = ln.split(":")
            try:
                gid = int(f[2])
            except (IndexError, ValueError):
                kept.append(ln)
                continue
            if gid >= 1000 and gid != 65534:
                removed_groups.add(f[0])
                continue
            if len(f) >= 4 and f[3]:
                f[3] = ",".join(m for m in f[3].split(",") if m not in removed_users)
            kept.append(":".join(f))
        _rewrite(g, kept)
    for name, gone in (("shadow", removed_users), ("gshadow", removed_groups)):
        s = os.path.join(etc, name)
        if os.path.exists(s):
            _rewrite(s, [ln for ln in open(s).read().splitlines() if ln.split(":")[0] not in gone])
    for name in ("subuid", "subgid"):
        s = os.path.join(etc, name)
        if os.path.exists(s):
            _rewrite(s, [])


def _rewrite(path, lines):
    st = os.stat(path)
    with open(path, "w") as f:
        f.write("".join(ln + "\n" for ln in lines))
    os.chmod(path, st.st_mode & 0o7777)


def init_guest_root(inst_dir, name):
    """Create the persistent guest root (once, at create time)."""
    from .store import hostname_for
    root = guest_root(inst_dir)
    if os.path.exists(os.path.join(root, ".limasim-root")):
        return root
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    etc = os.path.join(root, "etc")
    if not os.path.isdir(etc):
        tmp = etc + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["cp", "-a", "/etc", tmp], check=True)
        os.rename(tmp, etc)
    _filter_accounts(etc)
    with open(os.path.join(etc, "hostname"), "w") as f:
        f.write(hostname_for(name) + "\n")
    for d, mode_ in (("home", 0o755), ("root", 0o700), ("opt", 0o755), ("srv", 0o755), ("mnt", 0o755),
                     ("var", 0o755), ("var/log", 0o755), ("var/lib", 0o755), ("var/cache", 0o755),
                     ("var/tmp", 0o1777), ("var/spool", 0o755), ("var/spool/mail", 0o775),
                     ("var/local", 0o755), ("var/opt", 0o755), ("var/lib/limasim", 0o755),
                     ("var/log/limasim", 0o1777), ("usr-layer/upper", 0o755), ("usr-layer/work", 0o755),
                     ("usr-local", 0o755)):
        p = os.path.join(root, d)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode_)
    for d in ("bin", "sbin", "lib", "lib64", "libexec", "share", "include", "src", "etc", "games"):
        os.makedirs(os.path.join(root, "usr-local", d), exist_ok=True)
    for link, target in (("var/run", "../run"), ("var/lock", "../run/lock"), ("var/mail", "spool/mail")):
        p = os.path.join(root, link)
        if not os.path.lexists(p):
            os.symlink(target, p)
    # Copy root's skeleton like a cloud image would have.
    for f in (".bashrc", ".profile"):
        src = os.path.join(etc, "skel", f)
        if os.path.exists(src) and not os.path.exists(os.path.join(root, "root", f)):
            shutil.copy2(src, os.path.join(root, "root", f))
    with open(os.path.join(root, ".limasim-root"), "w") as f:
        f.write("1\n")
    return root


def bwrap_argv(sim, inst_dir, cfg, hostname, info_fd):
    root = guest_root(inst_dir)
    g = lambda p: os.path.join(root, p)  # noqa: E731
    a = [which("bwrap"), "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
         "--unshare-net", "--unshare-cgroup-try", "--hostname", hostname,
         "--ro-bind", "/usr", "/usr"]
    for d in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        hp = "/" + d
        if os.path.islink(hp):
            a += ["--symlink", os.readlink(hp), hp]
        elif os.path.isdir(hp):
            a += ["--ro-bind", hp, hp]
    for d in ("etc", "home", "root", "var", "opt", "srv", "mnt"):
        a += ["--bind", g(d), "/" + d]
    a += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--ro-bind", "/sys", "/sys",
          "--tmpfs", "/run", "--tmpfs", "/tmp",
          "--dir", "/.limasim",
          "--ro-bind", GUEST_DIR, "/.limasim/guest",
          "--ro-bind", sim.sim_dir, "/.limasim/sim",
          "--bind", g("usr-layer"), "/.limasim/usr-layer",
          "--bind", g("usr-local"), "/.limasim/usr-local"]
    # Lima mounts (dvm never asks for them, but a template with `mounts:` really exposes host dirs).
    for m in cfg.get("mounts") or []:
        loc, mp = m["location"], m["mountPoint"]
        if os.path.isabs(loc) and os.path.isabs(mp):
            a += ["--bind-try" if m.get("writable") else "--ro-bind-try", loc, mp]
    a += ["--info-fd", str(info_fd), "--", "/usr/bin/sleep", "infinity"]
    return a


# --------------------------------------------------------------------------------------------
# Entering the guest


def passwd_lookup(inst_dir, name):
    """(name, uid, gid, home, shell) from the guest's /etc/passwd, or None."""
    try:
        with open(os.path.join(guest_root(inst_dir), "etc", "passwd")) as f:
            for ln in f:
                fl = ln.rstrip("\n").split(":")
                if len(fl) >= 7 and fl[0] == name:
                    return fl[0], int(fl[2]), int(fl[3]), fl[5], fl[6] or "/bin/sh"
    except (OSError, ValueError):
        pass
    return None


def nsenter_argv(driver_pid):
    return [which("nsenter"), "--target", str(driver_pid), "--mount", "--uts", "--ipc", "--net", "--pid",
            "--root", "--"]


def login_argv(driver_pid, account, script, ssh_port=22, term=None, extra_env=None):
    """argv that runs `script` like sshd would: the account's login shell with `-c`."""
    name, uid, gid, home, shell = account
    env = ["HOME=" + home, "USER=" + name, "LOGNAME=" + name, "SHELL=" + shell, "PATH=" + SSHD_PATH,
           "LANG=C.UTF-8", "MAIL=/var/spool/mail/" + name,
           "SSH_CLIENT=127.0.0.1 %d 22" % ssh_port, "SSH_CONNECTION=127.0.0.1 %d 127.0.0.1 22" % ssh_port]
    if term:
        env.append("TERM=" + term)
    env += list(extra_env or [])
    chain = nsenter_argv(driver_pid)
    if uid != 0:
        chain += [which("setpriv"), "--reuid=%d" % uid, "--regid=%d" % gid, "--init-groups",
                  "--pdeathsig=HUP", "--"]
    # sshd: chdir to the home directory (as the user), fall back to /, then `$SHELL -c command`.
    chain += ["/usr/bin/env", "-i"] + env + [
        "/bin/sh", "-c", 'cd "$HOME" 2>/dev/null || cd /; exec "$SHELL" -c "$1"', "sshd", script]
    return chain


def root_account():
    return ("root", 0, 0, "/root", "/bin/bash")
