"""Test support for suites that drive the Lima simulator (tests/limasim/limactl).

    import sys; sys.path.insert(0, "<repo>/tests/limasim")
    from limasim_fixture import LimaSim, requires_sandbox

    def test_something(tmp_path):
        sim = LimaSim(tmp_path)
        try:
            sim.create_instance("dvm-app", running=True)     # seeded, not recorded
            subprocess.run([DVM, "ls"], env={**sim.env(), "LIMACTL": sim.limactl})
            assert [c["subcommand"] for c in sim.calls()] == ["list"]
        finally:
            sim.cleanup()

A pytest fixture `limasim` (function scope, cleaned up automatically) is also defined here;
import it into a conftest.py (`from limasim_fixture import limasim  # noqa: F401`).
See tests/limasim/README.md for the full API and the simulator's behaviour.
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMACTL = os.path.join(HERE, "limactl")
PYTHON = "/usr/bin/python3"
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# A small dvm-shaped template that needs no `base:` lookup.
DEFAULT_YAML = """\
minimumLimaVersion: 2.0.0
images:
- location: https://download.example.invalid/Fedora-Cloud-Base-Generic-44.x86_64.qcow2
  arch: x86_64
- location: https://download.example.invalid/Fedora-Cloud-Base-Generic-44.aarch64.qcow2
  arch: aarch64
cpus: 1
memory: 1GiB
disk: 10GiB
mounts: []
containerd: {system: false, user: false}
ssh: {loadDotSSHPubKeys: false, forwardAgent: false}
user: {name: dev, home: /home/dev, shell: /bin/bash}
"""

_LOGFMT_TOKEN = None


def _go_unquote(s):
    out, i = [], 0
    esc = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f",
           "v": "\v"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in esc:
                out.append(esc[n])
                i += 2
                continue
            if n == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            if n in "uU":
                w = 4 if n == "u" else 8
                out.append(chr(int(s[i + 2:i + 2 + w], 16)))
                i += 2 + w
                continue
        out.append(c)
        i += 1
    return "".join(out)


def log_records(stderr):
    """Parse limactl diagnostics (logfmt text or JSON lines) into dicts with at least
    `level` and `msg`; other lines come back as {"level": None, "msg": line}."""
    import re
    global _LOGFMT_TOKEN
    if _LOGFMT_TOKEN is None:
        _LOGFMT_TOKEN = re.compile(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S*)')
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, (bytes, bytearray)) else stderr
    recs = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                recs.append(json.loads(line))
                continue
            except ValueError:
                pass
        if line.startswith("time="):
            rec = {}
            for k, v in _LOGFMT_TOKEN.findall(line):
                rec[k] = _go_unquote(v[1:-1]) if v.startswith('"') else v
            if "level" in rec:
                recs.append(rec)
                continue
        recs.append({"level": None, "msg": line})
    return recs


def log_text(stderr):
    """All diagnostic messages of a call, unquoted, one per line (handy for `in` checks)."""
    return "\n".join("%s: %s" % (r.get("level"), r.get("msg")) for r in log_records(stderr))


_SANDBOX = None


def sandbox_available():
    """(ok, reason): can the guest sandbox (bwrap + nsenter + real sudo) run on this machine?"""
    global _SANDBOX
    # DVM_TEST_NO_SANDBOX=1 plays a machine without the sandbox (to check how the suites skip).
    if os.environ.get("DVM_TEST_NO_SANDBOX") == "1":
        return False, "DVM_TEST_NO_SANDBOX=1"
    if _SANDBOX is None:
        from limasim import sandbox
        _SANDBOX = sandbox.probe()
    return _SANDBOX


def wait_until(cond, timeout=10.0, what="the condition"):
    """Polls cond() until it returns something true (returned) or `timeout` seconds pass
    (AssertionError naming `what`). Tests wait for what they need, never a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def _skip_reason():
    ok, reason = sandbox_available()
    return None if ok else "Lima simulator guest sandbox unavailable: " + reason


def require_sandbox():
    """Call inside a test: skips it (pytest) when the guest sandbox cannot run here, or fails it
    with DVM_REQUIRE_SANDBOX=1 (CI: a missing sandbox must not pass as a skip)."""
    reason = _skip_reason()
    if reason:
        import pytest
        if os.environ.get("DVM_REQUIRE_SANDBOX") == "1":
            pytest.fail("DVM_REQUIRE_SANDBOX=1: " + reason, pytrace=False)
        pytest.skip(reason)


try:
    import pytest as _pytest

    requires_sandbox = _pytest.mark.skipif(_skip_reason() is not None,
                                           reason=_skip_reason() or "guest sandbox available")
except ImportError:  # pragma: no cover - the fixture module is usable without pytest
    _pytest = None
    requires_sandbox = None


def processes_of_lima_home(home):
    """(pid, cmdline) of the live (non-zombie) processes with `home` in their argv or as their
    LIMA_HOME, this process excepted (shared with tests/real_lima/real_lima_fixture.py)."""
    needle = home.encode()
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == os.getpid():
            continue
        try:
            with open("/proc/%s/stat" % e, "rb") as f:
                st = f.read()
            if st[st.rfind(b")") + 2:][:1] in (b"Z", b"X"):
                continue
            with open("/proc/%s/cmdline" % e, "rb") as f:
                cmd = f.read()
            try:
                with open("/proc/%s/environ" % e, "rb") as f:
                    env = f.read()
            except OSError:
                env = b""
        except OSError:
            continue
        if needle in cmd or (b"LIMA_HOME=" + needle + b"\0") in env + b"\0":
            yield int(e), cmd


class LimaSim:
    """One simulated LIMA_HOME.

    tmp_path: a directory owned by the test; LIMA_HOME is `<tmp_path>/lima` unless that path is
    too long for Lima's socket-path limit, in which case a short directory under /tmp is used
    (removed by cleanup()).  Keyword arguments are written to `_sim/config.json`."""

    def __init__(self, tmp_path=None, home=None, **settings):
        self._owned_home = None
        if home is None:
            base = str(tmp_path) if tmp_path is not None else tempfile.mkdtemp(prefix="limasim-")
            home = os.path.join(base, "lima")
            if len(home) > 48:  # keep `<home>/<30-char name>/ssh.sock.XXXXXXXXXXXXXXXX` < 108 bytes
                home = tempfile.mkdtemp(prefix="ls-", dir="/tmp")
                self._owned_home = home
        os.makedirs(home, exist_ok=True)
        self.home = os.path.realpath(home)
        self.limactl = LIMACTL
        self.sim_dir = os.path.join(self.home, "_sim")
        os.makedirs(self.sim_dir, exist_ok=True)
        if settings:
            self.configure(**settings)

    # ---------------------------------------------------------------------------------------
    # environment and configuration

    def env(self, **extra):
        """The minimal environment dvm gives limactl, with this LIMA_HOME."""
        e = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
             "HOME": os.environ.get("HOME", "/root"), "LANG": os.environ.get("LANG", "C.UTF-8"),
             "LIMA_HOME": self.home}
        for k in ("USER", "LOGNAME", "TERM", "TMPDIR"):
            if k in os.environ:
                e[k] = os.environ[k]
        e.update({k: str(v) for k, v in extra.items()})
        return e

    @property
    def config_path(self):
        return os.path.join(self.sim_dir, "config.json")

    def config(self):
        try:
            with open(self.config_path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def configure(self, **settings):
        """Merge settings into _sim/config.json (None removes a key). Returns the new config."""
        cfg = self.config()
        for k, v in settings.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = v
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=2)
        os.replace(tmp, self.config_path)
        return cfg

    def add_fault(self, **fault):
        """Append one fault entry (see tests/limasim/README.md for the schema)."""
        faults = list(self.config().get("faults") or [])
        faults.append(fault)
        self.configure(faults=faults)

    # ---------------------------------------------------------------------------------------
    # recorded calls

    def calls(self, subcommand=None):
        """Parsed _sim/calls.jsonl, ordered by call number (start order)."""
        out = []
        try:
            with open(os.path.join(self.sim_dir, "calls.jsonl")) as f:
                for line in f:
                    if line.strip():
                        out.append(json.loads(line))
        except FileNotFoundError:
            return []
        out.sort(key=lambda c: c["call"])
        if subcommand is not None:
            out = [c for c in out if c.get("subcommand") == subcommand]
        return out

    def clear_calls(self):
        for f in ("calls.jsonl",):
            try:
                os.unlink(os.path.join(self.sim_dir, f))
            except FileNotFoundError:
                pass

    # ---------------------------------------------------------------------------------------
    # network fixtures

    def add_download(self, url, data, status=200):
        """Serve `data` (bytes, str, or a path to a file) for `url` to the guest's curl/wget and to
        template locators. Returns the sha256 hex digest of the body."""
        if isinstance(data, (bytes, bytearray)):
            body = bytes(data)
        elif isinstance(data, str) and os.path.exists(data):
            with open(data, "rb") as f:
                body = f.read()
        elif isinstance(data, str):
            body = data.encode()
        else:
            with open(os.fspath(data), "rb") as f:
                body = f.read()
        digest = hashlib.sha256(body).hexdigest()
        d = os.path.join(self.sim_dir, "downloads")
        os.makedirs(d, exist_ok=True)
        name = digest[:16] + "-" + (os.path.basename(url.split("?")[0].rstrip("/")) or "index")
        with open(os.path.join(d, name), "wb") as f:
            f.write(body)
        idx_path = os.path.join(self.sim_dir, "downloads.json")
        try:
            with open(idx_path) as f:
                idx = json.load(f)
        except FileNotFoundError:
            idx = {}
        idx[url] = {"file": name, "status": int(status)} if status != 200 else name
        tmp = idx_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(idx, f, indent=2)
        os.replace(tmp, idx_path)
        return digest

    # ---------------------------------------------------------------------------------------
    # running the simulator

    def run(self, *args, stdin=None, env=None, cwd=None, timeout=120, record=True, check=False):
        """Run limactl with this LIMA_HOME. record=False keeps it out of calls.jsonl and faults."""
        e = env if env is not None else self.env()
        if not record:
            e = dict(e, LIMASIM_INTERNAL="1")
        inp = stdin.encode() if isinstance(stdin, str) else stdin
        r = subprocess.run([self.limactl] + [str(a) for a in args], input=inp,
                           stdin=None if inp is not None else subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=cwd or self.home,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("limactl %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode,
                                                                r.stderr.decode(errors="replace")))
        return r

    def create_instance(self, name, yaml_text=None, running=True, args=()):
        """Seed an instance (create + optional start) without recording the calls."""
        text = DEFAULT_YAML if yaml_text is None else yaml_text
        self.run("--tty=false", "create", "--name", name, *args, "-", stdin=text, record=False, check=True)
        if running:
            self.run("--tty=false", "start", name, record=False, check=True)
        return self.instance_dir(name)

    def start(self, name):
        return self.run("--tty=false", "start", name, record=False, check=True)

    def stop(self, name, force=True):
        return self.run("stop", *(["-f"] if force else []), name, record=False)

    def instance_dir(self, name):
        return os.path.join(self.home, name)

    def status(self, name):
        r = self.run("list", "--json", name, record=False)
        return json.loads(r.stdout)["status"] if r.returncode == 0 else None

    def list_json(self):
        r = self.run("list", "--json", record=False)
        return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]

    def lima_yaml(self, name):
        import yaml
        with open(os.path.join(self.instance_dir(name), "lima.yaml")) as f:
            return yaml.safe_load(f)

    # ---------------------------------------------------------------------------------------
    # the guest

    def _driver_pid(self, name):
        from limasim import store
        pid = store.driver_pid(self.instance_dir(name))
        if not pid:
            raise RuntimeError("instance %s is not running" % name)
        return pid

    def guest_user(self, name):
        from limasim import sandbox
        y = self.lima_yaml(name) or {}
        uname = (y.get("user") or {}).get("name")
        if not uname:
            from limasim.simenv import Sim
            from limasim import store
            sim = Sim({"LIMA_HOME": self.home})
            uname = store.guest_user_info(sim, y, name, sim.info_version)["name"]
        return sandbox.passwd_lookup(self.instance_dir(name), uname)

    def guest_path(self, name, path):
        """Host path of a guest file. /tmp and /run (tmpfs) need a running instance."""
        if not path.startswith("/"):
            acc = self.guest_user(name)
            path = os.path.join(acc[3] if acc else "/", path)
        root = os.path.join(self.instance_dir(name), "guest")
        parts = path.strip("/").split("/", 1)
        top = parts[0]
        rest = parts[1] if len(parts) > 1 else ""
        if top in ("etc", "home", "root", "var", "opt", "srv", "mnt"):
            return os.path.join(root, top, rest)
        if top == "usr" and (rest == "local" or rest.startswith("local/")):
            return os.path.join(root, "usr-local", rest[len("local"):].lstrip("/"))
        if top == "usr":
            upper = os.path.join(root, "usr-layer", "upper", rest)
            if os.path.lexists(upper):
                return upper
            try:
                return os.path.join("/proc/%d/root" % self._driver_pid(name), path.lstrip("/"))
            except RuntimeError:
                return os.path.join("/usr", rest)
        return os.path.join("/proc/%d/root" % self._driver_pid(name), path.lstrip("/"))

    def guest_run(self, name, cmd, user=None, stdin=b"", timeout=60, check=False, login=True):
        """Run argv (list) or a bash script (str) in the running guest, not via calls.jsonl.

        user: None = the instance's guest user, "root", or any guest user name.
        Runs under a login shell (PATH with the stand-ins, like `limactl shell`).
        Returns subprocess.CompletedProcess with bytes stdout/stderr."""
        from limasim import sandbox
        pid = self._driver_pid(name)
        if user is None:
            acc = self.guest_user(name)
        elif user == "root":
            acc = sandbox.root_account()
        else:
            acc = sandbox.passwd_lookup(self.instance_dir(name), user)
        if acc is None:
            raise RuntimeError("no such guest user: %r" % (user,))
        acc = (acc[0], acc[1], acc[2], acc[3], "/bin/bash")
        script = cmd if isinstance(cmd, str) else " ".join(shlex.quote(a) for a in cmd)
        remote = "exec /bin/bash %s -c %s" % ("-l" if login else "", shlex.quote(script))
        argv = sandbox.login_argv(pid, acc, remote)
        r = subprocess.run(argv, input=stdin.encode() if isinstance(stdin, str) else stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("guest command failed (%d): %s\n%s" % (
                r.returncode, script, r.stderr.decode(errors="replace")))
        return r

    def guest_calls(self, name, tool):
        """Parsed /var/log/limasim/<tool>.jsonl of a guest (stand-ins and package stubs)."""
        p = os.path.join(self.instance_dir(name), "guest", "var", "log", "limasim", tool + ".jsonl")
        try:
            with open(p) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    # ---------------------------------------------------------------------------------------
    # processes and cleanup

    def processes(self):
        """Live (non-zombie) processes that belong to this LIMA_HOME: simulator calls, host
        agents, sandboxes and everything inside the sandboxes."""
        found = set()
        namespaces = set()
        for pid, cmd in processes_of_lima_home(self.home):
            found.add(pid)
            if b"bwrap" in cmd:
                try:
                    kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
                    for k in kids:
                        namespaces.add(os.readlink("/proc/%s/ns/pid" % k))
                except OSError:
                    continue
        if namespaces:
            for e in os.listdir("/proc"):
                if e.isdigit():
                    try:
                        if os.readlink("/proc/%s/ns/pid" % e) in namespaces:
                            with open("/proc/%s/stat" % e, "rb") as f:
                                st = f.read()
                            if st[st.rfind(b")") + 2:][:1] not in (b"Z", b"X"):
                                found.add(int(e))
                    except OSError:
                        pass
        return sorted(found)

    def stop_all(self):
        """Force-stop every running instance of this LIMA_HOME (not recorded)."""
        from limasim import store
        if not os.path.isdir(self.home):
            return
        for n in sorted(os.listdir(self.home)):
            d = os.path.join(self.home, n)
            if n.startswith(("_", ".")) or not os.path.isdir(d):
                continue
            if store.read_pid(os.path.join(d, "ha.pid"), store.HA_MARKER) or store.driver_pid(d):
                self.run("stop", "-f", n, record=False, timeout=60)

    def faults_fired(self):
        """How many times the configured faults have fired so far (_sim/faults-state.json;
        a call's fault counts once the call has selected it, before it acts)."""
        try:
            with open(os.path.join(self.home, "_sim", "faults-state.json")) as f:
                return sum(json.load(f).values())
        except (FileNotFoundError, ValueError):
            return 0

    def wait_no_processes(self, timeout=10.0):
        deadline = time.time() + timeout
        left = self.processes()
        while left and time.time() < deadline:
            time.sleep(0.05)
            left = self.processes()
        return left

    def cleanup(self):
        try:
            self.stop_all()
        finally:
            if self._owned_home:
                shutil.rmtree(self._owned_home, ignore_errors=True)


if _pytest is not None:
    @_pytest.fixture
    def limasim(tmp_path):
        """A fresh LimaSim per test; every instance is force-stopped afterwards."""
        sim = LimaSim(tmp_path)
        yield sim
        sim.cleanup()
