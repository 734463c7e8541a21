"""Simulator environment: LIMA_HOME, `_sim/config.json`, the simulated Lima version."""

import json
import os
import re

DEFAULT_VERSION = "2.0.3"

# Every key of _sim/config.json with its default (documented in tests/limasim/README.md).
DEFAULTS = {
    "version": DEFAULT_VERSION,   # printed by --version ("limactl version X")
    "latency_ms": 0,              # sleep at the start of every call
    "faults": [],                 # fault injection, see faults.py
    "sandbox": "auto",            # auto | off | on
    "unavailable_packages": [],   # dnf5 stand-in: packages that do not exist
    "package_commands": {},       # dnf5 stand-in: extra package -> commands (or {commands, units, version, exec})
    "user": None,                 # default guest user name (Lima: host login name, "lima" for root)
    "uid": None,                  # default guest uid (Lima: host uid; 1000 when the host uid is 0)
    "boot_delay_ms": 0,           # extra time the host agent spends "booting" before READY
    "host_os": None,              # "darwin" plays a Mac (vz registered); default linux
    "host_arch": None,            # default: this machine's
}


def parse_version(s):
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", s or "")
    if not m:
        return (0, 0, 0)
    return tuple(int(x) for x in m.groups())


class Sim:
    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        home = env.get("LIMA_HOME") or os.path.join(os.path.expanduser("~"), ".lima")
        if os.path.exists(home):
            home = os.path.realpath(home)
        else:
            home = os.path.abspath(home)
        self.lima_home = home
        self.sim_dir = os.path.join(home, "_sim")
        self._config = None

    # -- config -------------------------------------------------------------
    @property
    def config(self):
        if self._config is None:
            cfg = dict(DEFAULTS)
            path = os.path.join(self.sim_dir, "config.json")
            try:
                with open(path, "rb") as f:
                    data = json.loads(f.read() or b"{}")
                if isinstance(data, dict):
                    cfg.update(data)
            except FileNotFoundError:
                pass
            except ValueError as e:  # a broken config is a test bug: say so loudly
                raise SystemExit("limasim: invalid %s: %s" % (path, e))
            self._config = cfg
        return self._config

    def get(self, key):
        return self.config.get(key, DEFAULTS.get(key))

    # -- version ------------------------------------------------------------
    @property
    def version(self):
        return str(self.get("version") or DEFAULT_VERSION)

    @property
    def info_version(self):
        """What the lima-version files hold: the version with a "v"."""
        ver = self.version
        return ver if ver.startswith("v") or not re.match(r"^\d", ver) else "v" + ver

    @property
    def vtuple(self):
        return parse_version(self.version)

    def at_least(self, s):
        return self.vtuple >= parse_version(s)

    def q(self, name):
        """Quote a name inside a message: `%q` up to 2.1, `%#q` (backquotes) from 2.2."""
        from .log import go_quote
        if self.at_least("2.2.0") and "`" not in name and name.isprintable():
            return "`" + name + "`"
        return go_quote(name)

    # -- paths --------------------------------------------------------------
    def inst_dir(self, name):
        return os.path.join(self.lima_home, name)

    def ensure_sim_dir(self):
        os.makedirs(self.sim_dir, exist_ok=True)
        return self.sim_dir

    def instance_names(self):
        try:
            entries = sorted(os.listdir(self.lima_home))
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for e in entries:
            if e.startswith("_") or e.startswith("."):
                continue
            if os.path.isdir(os.path.join(self.lima_home, e)):
                out.append(e)
        return out
