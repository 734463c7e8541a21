"""Test support for running the e2e suite against a real Lima (tests/e2e/README-real-lima.md).

`RealLima` stands where tests/limasim's `LimaSim` stands in tests/e2e/conftest.py: one private
LIMA_HOME, the `limactl` dvm is given (the recording wrapper `tests/real_lima/limactl` in front of
the real one), the recorded calls in the simulator's format, instance state and commands in the
guest (through `limactl shell`, unrecorded). What only the simulator can do (faults, a fake
version, reading the guest's files from the host, the stand-ins' call logs) is absent: using it
raises an AttributeError that names the marker the test needs."""

import json
import os
import shlex
import shutil
import subprocess
import tempfile

from limasim_fixture import LimaSim, processes_of_lima_home

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, "limactl")
RECORD_DIR = "_dvmtest"  # Lima ignores `_` entries of LIMA_HOME (shared/spec/lima-contract.md §6)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# A small real template for instances the tests seed outside dvm (foreign or orphaned ones):
# Lima's own Fedora image, the least a VM needs (LimaSim's DEFAULT_YAML points at no real image).
REAL_DEFAULT_YAML = """\
minimumLimaVersion: 2.0.0
base: template:_images/fedora
cpus: 1
memory: 1GiB
disk: 10GiB
mounts: []
containerd: {system: false, user: false}
ssh: {loadDotSSHPubKeys: false, forwardAgent: false}
user: {name: dev, home: /home/dev, shell: /bin/bash}
"""

# Real VMs boot in minutes, not seconds.
CREATE_TIMEOUT = 1800
START_TIMEOUT = 900

# Per session: how many VMs the tests had Lima create and start (printed in the summary).
totals = {"create": 0, "start": 0}


def probe(real_limactl):
    """(ok, what): `limactl --version`, then `limactl list` in an empty LIMA_HOME, which also
    shows that it runs here (Lima refuses root: shared/spec/lima-contract.md §1)."""
    try:
        r = subprocess.run([real_limactl, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        return False, f"cannot run {real_limactl}: {e.strerror}"
    if r.returncode != 0:
        return False, f"{real_limactl} --version exited {r.returncode}: {r.stderr.strip()}"
    version = r.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="rl-probe-") as d:
        env = {"PATH": PATH, "HOME": d, "LANG": "C.UTF-8", "LIMA_HOME": os.path.join(d, "lima")}
        r = subprocess.run([real_limactl, "list", "--json"], capture_output=True, text=True, timeout=60,
                           env=env, cwd=d)
    if r.returncode != 0:
        return False, f"{real_limactl} list exited {r.returncode}: {r.stderr.strip()}"
    return True, version


def default_cache_dir():
    """Lima's download cache of the user running the tests ($XDG_CACHE_HOME/lima on Linux,
    shared/spec/lima-contract.md §6); every test's private HOME links to it, so an image is
    downloaded once, not once per test."""
    explicit = os.environ.get("DVM_TEST_LIMA_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lima")


class RealLima:
    """One LIMA_HOME driven by a real limactl through the recording wrapper.

    tmp_path: the test's directory; LIMA_HOME is `<tmp_path>/lima` unless that is too long for
    Lima's socket paths (then a short directory under /tmp, removed by cleanup()). The HOME dvm
    gives limactl (`<tmp_path>/home`, as tests/e2e/conftest.py's DvmEnv sets it) gets
    `.cache/lima` linked to the shared download cache."""

    def __init__(self, tmp_path, real_limactl, cache_dir=None):
        self._owned_home = None
        home = os.path.join(str(tmp_path), "lima")
        if len(home) > 48:  # `<home>/<30-char name>/ssh.sock.XXXXXXXXXXXXXXXX` < 108 bytes
            home = tempfile.mkdtemp(prefix="rl-", dir="/tmp")
            self._owned_home = home
        os.makedirs(home, exist_ok=True)
        self.home = os.path.realpath(home)
        self.limactl = WRAPPER
        self.real_limactl = real_limactl
        self.record_dir = os.path.join(self.home, RECORD_DIR)
        self.scratch = os.path.join(self.record_dir, "cwd")
        os.makedirs(self.scratch, exist_ok=True)
        with open(os.path.join(self.record_dir, "config.json"), "w") as f:
            json.dump({"limactl": real_limactl}, f)
        self.host_home = os.path.join(str(tmp_path), "home")
        cache = cache_dir or default_cache_dir()
        os.makedirs(cache, exist_ok=True)
        os.makedirs(os.path.join(self.host_home, ".cache"), exist_ok=True)
        link = os.path.join(self.host_home, ".cache", "lima")
        if not os.path.lexists(link):
            os.symlink(cache, link)

    def __getattr__(self, name):
        raise AttributeError(
            f"{name!r} is a Lima simulator feature that a real Lima does not have: mark the test "
            f"@pytest.mark.needs_simulator(...) (tests/e2e/README-real-lima.md)")

    # ---------------------------------------------------------------------------------------
    # environment and unrecorded calls

    def env(self, **extra):
        e = {"PATH": PATH, "HOME": self.host_home, "LANG": "C.UTF-8", "LIMA_HOME": self.home}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def run(self, *args, stdin=None, env=None, cwd=None, timeout=120, record=True, check=False):
        """limactl with this LIMA_HOME, like LimaSim.run: through the recording wrapper, or with
        record=False the real one directly (the test's own set-up)."""
        inp = stdin.encode() if isinstance(stdin, str) else stdin
        limactl = self.limactl if record else self.real_limactl
        r = subprocess.run([limactl, *map(str, args)], input=inp,
                           stdin=None if inp is not None else subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env if env is not None else self.env(), cwd=cwd or self.scratch,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("limactl %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode,
                                                                r.stderr.decode(errors="replace")))
        return r

    # ---------------------------------------------------------------------------------------
    # recorded calls (the wrapper's, in the simulator's format)

    def calls(self, subcommand=None):
        out = []
        try:
            with open(os.path.join(self.record_dir, "calls.jsonl")) as f:
                out = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        out.sort(key=lambda c: c["call"])
        if subcommand is not None:
            out = [c for c in out if c.get("subcommand") == subcommand]
        return out

    def clear_calls(self):
        self._count_vms()
        try:
            os.unlink(os.path.join(self.record_dir, "calls.jsonl"))
        except FileNotFoundError:
            pass

    def _count_vms(self):
        for c in self.calls():
            if c["subcommand"] in totals:
                totals[c["subcommand"]] += 1

    # ---------------------------------------------------------------------------------------
    # instances

    def create_instance(self, name, yaml_text=None, running=True, args=()):
        """Create (and start) an instance outside dvm, unrecorded, from a real template."""
        text = REAL_DEFAULT_YAML if yaml_text is None else yaml_text
        self.run("--tty=false", "create", "--name", name, *args, "-", stdin=text, record=False,
                 check=True, timeout=CREATE_TIMEOUT)
        totals["create"] += 1
        if running:
            self.start(name)
        return self.instance_dir(name)

    def start(self, name):
        totals["start"] += 1
        return self.run("--tty=false", "start", name, record=False, check=True, timeout=START_TIMEOUT)

    def stop(self, name, force=True):
        return self.run("stop", *(["-f"] if force else []), name, record=False, timeout=START_TIMEOUT)

    def instance_dir(self, name):
        return os.path.join(self.home, name)

    def status(self, name):
        r = self.run("list", "--format", "{{.Status}}", name, record=False)
        return (r.stdout.decode().strip() or None) if r.returncode == 0 else None

    def list_json(self):
        r = self.run("list", "--json", record=False)
        return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]

    def lima_yaml(self, name):
        import yaml
        with open(os.path.join(self.instance_dir(name), "lima.yaml")) as f:
            return yaml.safe_load(f)

    # ---------------------------------------------------------------------------------------
    # the guest

    def guest_run(self, name, cmd, user=None, stdin=b"", timeout=60, check=False, login=True):
        """Run argv (list) or a bash script (str) in the running guest through `limactl shell`,
        not recorded. user: None = the instance's user, "root" or any guest user (via sudo).
        Starts in the user's home, like LimaSim.guest_run. Returns a CompletedProcess (bytes).
        Unlike LimaSim's, every command passes the instance user's login shell first (limactl
        shell runs `$SHELL -l -c ...`): a broken ~/.bash_profile stops commands as root too."""
        script = cmd if isinstance(cmd, str) else " ".join(shlex.quote(a) for a in cmd)
        bash = ["/bin/bash", *(["-l"] if login else []), "-c", 'cd "$HOME" 2>/dev/null || cd /\n' + script]
        if user is not None:
            bash = ["sudo", "-n", "-H", "-u", user, *bash]
        r = subprocess.run([self.real_limactl, "shell", "--workdir", "/", name, *bash],
                           input=stdin.encode() if isinstance(stdin, str) else stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(),
                           cwd=self.scratch, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("guest command failed (%d): %s\n%s" % (
                r.returncode, script, r.stderr.decode(errors="replace")))
        return r

    # ---------------------------------------------------------------------------------------
    # processes and cleanup

    def processes(self):
        """Live processes that belong to this LIMA_HOME (its path in their argv or their
        LIMA_HOME): limactl calls, host agents, QEMU."""
        return sorted(pid for pid, _cmd in processes_of_lima_home(self.home))

    wait_no_processes = LimaSim.wait_no_processes

    def cleanup(self):
        """Delete every instance of this LIMA_HOME (a real VM holds gigabytes of disk)."""
        try:
            self._count_vms()
            if os.path.isdir(self.home):
                for n in sorted(os.listdir(self.home)):
                    if not n.startswith(("_", ".")) and os.path.isdir(os.path.join(self.home, n)):
                        self.run("delete", "--force", n, record=False, timeout=START_TIMEOUT)
        finally:
            if self._owned_home:
                shutil.rmtree(self._owned_home, ignore_errors=True)
