"""Shared code of the recording stand-ins that run inside the guest sandbox.

State (persistent, like a VM disk):
  /var/lib/limasim/rpmdb.json        installed packages (dnf5 / rpm)
  /var/lib/limasim/systemd.json      unit states (systemctl)
  /var/log/limasim/<tool>.jsonl      one JSON line per stand-in invocation
  /var/log/limasim/journal/<unit>.log  lines printed by journalctl -u <unit>
Simulator settings are read from /.limasim/sim/config.json (= $LIMA_HOME/_sim, read-only).
"""

import fcntl
import json
import os
import pwd
import socket
import sys
import time

SIM_DIR = "/.limasim/sim"
LOG_DIR = "/var/log/limasim"
STATE_DIR = "/var/lib/limasim"
JOURNAL_DIR = "/var/log/limasim/journal"
PKG_FALLBACK_BIN = "/var/lib/limasim/pkgbin"
RPMDB = os.path.join(STATE_DIR, "rpmdb.json")
SYSTEMD_DB = os.path.join(STATE_DIR, "systemd.json")
DIST = "fc44"
ARCH = os.uname().machine

# ------------------------------------------------------------------------------------------
# Package catalog: package -> commands it provides, systemd units it ships, version.
# `exec` makes a stub hand over to a real program (so `zsh -c ...` still runs a shell).
PACKAGES = {
    "bat": {"commands": ["bat"], "version": "0.25.0"},
    "helix": {"commands": ["hx"], "version": "25.01.1"},
    "nodejs": {"commands": ["node"], "version": "22.15.0"},
    "npm": {"commands": ["npm", "npx"], "version": "10.9.2"},
    "uv": {"commands": ["uv", "uvx"], "version": "0.7.2"},
    "docker-ce": {"commands": ["dockerd"], "units": ["docker.service", "docker.socket"], "version": "28.1.1"},
    "docker-ce-cli": {"commands": ["docker"], "version": "28.1.1"},
    "containerd.io": {"commands": ["containerd", "ctr"], "units": ["containerd.service"], "version": "1.7.27"},
    "docker-buildx-plugin": {"commands": [], "version": "0.23.0"},
    "docker-compose-plugin": {"commands": [], "version": "2.35.1"},
    "zsh": {"commands": ["zsh"], "version": "5.9", "exec": "/bin/bash"},
    "tmux": {"commands": ["tmux"], "version": "3.5a"},
    "fzf": {"commands": ["fzf"], "version": "0.61.1"},
    "just": {"commands": ["just"], "version": "1.40.0"},
    "git-delta": {"commands": ["delta"], "version": "0.18.2"},
    "lazygit": {"commands": ["lazygit"], "version": "0.50.0"},
    "starship": {"commands": ["starship"], "version": "1.23.0"},
    "yazi": {"commands": ["yazi", "ya"], "version": "25.4.8"},
    "zellij": {"commands": ["zellij"], "version": "0.42.2"},
    "cloudflared": {"commands": ["cloudflared"], "version": "2025.4.2"},
    "tailscale": {"commands": ["tailscale", "tailscaled"], "units": ["tailscaled.service"], "version": "1.82.5"},
    "claude-code": {"commands": ["claude"], "version": "1.0.0"},
    "chezmoi": {"commands": ["chezmoi"], "version": "2.62.3"},
    "llama-cpp": {"commands": ["llama-server", "llama-cli"], "version": "b5200"},
    "git": {"commands": ["git"], "version": "2.49.0"},
    "git-core": {"commands": ["git"], "version": "2.49.0"},
    "jq": {"commands": ["jq"], "version": "1.7.1"},
    "curl": {"commands": ["curl"], "version": "8.11.1"},
    "wget": {"commands": ["wget"], "version": "1.25.0"},
    "wget2-wget": {"commands": ["wget"], "version": "2.2.0"},
    "unzip": {"commands": ["unzip"], "version": "6.0"},
    "tar": {"commands": ["tar"], "version": "1.35"},
    "gzip": {"commands": ["gzip"], "version": "1.13"},
    "acl": {"commands": ["setfacl", "getfacl"], "version": "2.3.2"},
    "bubblewrap": {"commands": ["bwrap"], "version": "0.11.0"},
    "sudo": {"commands": ["sudo"], "version": "1.9.15"},
    "shadow-utils": {"commands": ["useradd", "usermod", "groupadd"], "version": "4.17.0"},
    "gnupg2": {"commands": ["gpg"], "version": "2.4.7"},
    "openssh-clients": {"commands": ["ssh", "ssh-keygen", "scp"], "version": "9.9p1"},
    "openssh-server": {"commands": ["sshd"], "units": ["sshd.service"], "version": "9.9p1"},
    "python3": {"commands": ["python3"], "version": "3.13.3"},
    "python3-pip": {"commands": ["pip3", "pip"], "version": "24.3.1"},
    "ripgrep": {"commands": ["rg"], "version": "14.1.1"},
    "fd-find": {"commands": ["fd"], "version": "10.2.0"},
    "neovim": {"commands": ["nvim"], "version": "0.11.1"},
    "vim-enhanced": {"commands": ["vim"], "version": "9.1.1275"},
    "htop": {"commands": ["htop"], "version": "3.4.1"},
    "gh": {"commands": ["gh"], "version": "2.72.0"},
    "rsync": {"commands": ["rsync"], "version": "3.4.1"},
    "ca-certificates": {"commands": [], "version": "2024.2.69"},
    "dnf5-plugins": {"commands": [], "version": "5.2.13.0"},
    "procps-ng": {"commands": ["ps", "pgrep", "pkill"], "version": "4.0.4"},
}

# What a Fedora Cloud image has installed out of the box.
BASE_PACKAGES = [
    "bash", "coreutils", "curl", "dnf5", "filesystem", "findutils", "gawk", "glibc", "grep", "gzip",
    "hostname", "kernel-core", "less", "openssh-clients", "openssh-server", "passwd", "procps-ng",
    "python3", "rpm", "sed", "shadow-utils", "sudo", "systemd", "tar", "util-linux", "vim-minimal",
    "which", "xz", "cloud-init", "fedora-release", "ca-certificates", "dnf5-plugins",
]
BASE_ENABLED_UNITS = ["sshd.service"]


def sim_config():
    try:
        with open(os.path.join(SIM_DIR, "config.json")) as f:
            c = json.load(f)
            return c if isinstance(c, dict) else {}
    except (OSError, ValueError):
        return {}


def network_round_trip():
    """A modeled request to a repository or download server: sleeps `network_ms` of config.json."""
    ms = sim_config().get("network_ms") or 0
    if isinstance(ms, (int, float)) and ms > 0:
        time.sleep(ms / 1000.0)


def catalog():
    cat = {k: dict(v) for k, v in PACKAGES.items()}
    for name, spec in (sim_config().get("package_commands") or {}).items():
        if isinstance(spec, list):
            spec = {"commands": spec}
        elif isinstance(spec, str):
            spec = {"commands": [spec]}
        cat[name] = {**cat.get(name, {}), **spec}
    return cat


def user_name(uid=None):
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class locked:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except PermissionError:
            # unprivileged readers (rpm -q, systemctl is-active ...) take a shared lock
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
                fcntl.flock(self.fd, fcntl.LOCK_SH)
            except FileNotFoundError:
                self.fd = None
        return self.fd

    def __exit__(self, *a):
        if self.fd is not None:
            os.close(self.fd)


def record(tool, argv, exit_code=None, **extra):
    """Append one JSON line to /var/log/limasim/<tool>.jsonl (world-writable log dir)."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    rec = {"tool": tool, "argv": list(argv), "uid": os.getuid(), "euid": os.geteuid(),
           "user": user_name(), "cwd": cwd, "time": time.time(), "pid": os.getpid(),
           "exit_code": exit_code}
    rec.update(extra)
    path = os.path.join(LOG_DIR, tool + ".jsonl")
    line = (json.dumps(rec) + "\n").encode()
    try:
        old = os.umask(0)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        finally:
            os.umask(old)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as e:
        sys.stderr.write("limasim: cannot record %s call: %s\n" % (tool, e))


def run_tool(tool, fn):
    """Run fn(argv) -> exit code, recording the call; SystemExit codes are recorded too."""
    argv = sys.argv[1:]
    code = 1
    try:
        code = fn(argv)
        if code is None:
            code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
    except KeyboardInterrupt:
        code = 130
    finally:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            pass
        record(tool, argv, code)
    os._exit(code)


# ------------------------------------------------------------------------------------------
# JSON state files


def load_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return default


def save_json(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def usr_overlay():
    return os.path.exists("/run/limasim/usr-overlay")


def stub_dir():
    return "/usr/bin" if usr_overlay() else PKG_FALLBACK_BIN


def nevra(name, info):
    return "%s-%s-%s.%s.%s" % (name, info.get("version", "1.0.0"), info.get("release", "1"), DIST,
                                info.get("arch", ARCH))


# ------------------------------------------------------------------------------------------
# systemd state


def unit_name(u):
    known = (".service", ".socket", ".timer", ".target", ".path", ".mount", ".slice", ".scope", ".device",
             ".swap", ".automount")
    return u if u.endswith(known) else u + ".service"


def journal_append(unit, msg, ident=None):
    os.makedirs(JOURNAL_DIR, exist_ok=True)
    line = "%s %s %s[%d]: %s\n" % (time.strftime("%b %d %H:%M:%S"), socket.gethostname(),
                                    ident or unit.rsplit(".", 1)[0], os.getpid(), msg)
    path = os.path.join(JOURNAL_DIR, unit + ".log")
    old = os.umask(0)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    finally:
        os.umask(old)
    with os.fdopen(fd, "a") as f:
        f.write(line)


def set_hosts_entry(hostname):
    try:
        lines = open("/etc/hosts").read().splitlines()
    except FileNotFoundError:
        lines = []
    lines = [ln for ln in lines if not ln.rstrip().endswith("# limasim")]
    lines.append("127.0.1.1\t%s\t# limasim" % hostname)
    with open("/etc/hosts", "w") as f:
        f.write("".join(ln + "\n" for ln in lines))


def on_boot(overlay):
    """Per-boot stand-in state: the rpm database exists, enabled units are active again."""
    if overlay:
        open("/run/limasim/usr-overlay", "w").close()
    with locked(RPMDB + ".lock"):
        db = load_json(RPMDB, None)
        if db is None:
            db = {"packages": {}, "repos": {}}
            for p in BASE_PACKAGES:
                db["packages"][p] = {"version": PACKAGES.get(p, {}).get("version", "1.0.0"), "release": "1",
                                     "repo": "@System", "stubs": [], "units": []}
            save_json(RPMDB, db)
    with locked(SYSTEMD_DB + ".lock"):
        sd = load_json(SYSTEMD_DB, None)
        if sd is None:
            sd = {"units": {u: {"enabled": True, "active": "inactive"} for u in BASE_ENABLED_UNITS}}
        for name, st in sd.get("units", {}).items():
            st["active"] = "active" if st.get("enabled") and not st.get("masked") else "inactive"
            st.pop("since", None)
            if st["active"] == "active":
                st["since"] = time.time()
        save_json(SYSTEMD_DB, sd)
