"""Shared fixtures for the CLI end-to-end tests: `dvm` (the built binary) against the Lima
simulator of tests/limasim, with private config, state and LIMA_HOME directories per test.

    def test_x(dvm):
        dvm.vm("app", 'baseline = false\n')
        r = dvm.run("sync", "app")
        assert r.returncode == 0, r.stderr
        assert [c["subcommand"] for c in dvm.sim.calls()] == [...]

With DVM_TEST_LIMACTL=<a real limactl> the same tests run against a real Lima instead
(tests/real_lima, README-real-lima.md here): `dvm.sim` is then a RealLima, and every test marked
`@pytest.mark.needs_simulator("what")` is skipped with that reason.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("DVM_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "limasim"))

from limasim_fixture import LimaSim, require_sandbox as _require_simulator_sandbox, wait_until  # noqa: E402,F401

sys.path.insert(0, os.path.join(SOURCE, "tests", "real_lima"))
sys.path.append(os.path.join(SOURCE, "tests", "recipes"))
from recipetools import install_guest_stubs as _install_stubs  # noqa: E402
import real_lima_fixture  # noqa: E402

DVM = os.environ.get("DVM_BINARY") or os.path.join(SOURCE, "build", "test", "dvm")

# A real limactl to test against instead of the simulator (empty = the simulator).
REAL_LIMACTL = os.environ.get("DVM_TEST_LIMACTL") or None
if REAL_LIMACTL:  # the wrapper runs it from elsewhere: an absolute path
    REAL_LIMACTL = shutil.which(REAL_LIMACTL) or os.path.abspath(REAL_LIMACTL)
# Set by the ctest entry `real-lima.e2e`: without DVM_TEST_LIMACTL it has nothing to do.
REAL_LIMA_ENTRY = os.environ.get("DVM_TEST_REAL_LIMA") == "1"
# The guest user the tests expect; dvm's default is the host login (root: "developer"), and a
# real limactl never runs as root.
GUEST_USER = "developer"

# Every variable limactl may receive from dvm (product spec §7 and the runner's allowlist).
LIMACTL_ENV_ALLOWLIST = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM", "TMPDIR", "XDG_CONFIG_HOME"}
PROXY_VARIABLES = {n for p in ("http", "https", "no", "ftp", "all") for n in (p + "_proxy", p.upper() + "_PROXY")}
SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "AUTH", "PASSWD", "PASSPHRASE", "CREDENTIAL", "PRIVATE",
                "COOKIE", "SESSION")


def allowed_env_name(name):
    """dvm's allowlist (libdvm/src/lima/driver.cpp): Lima's own LIMA_* except the TCP-only SSH
    forwarder switch and anything secret-looking, the proxies, and the fixed names."""
    if name in LIMACTL_ENV_ALLOWLIST or name in PROXY_VARIABLES or name.startswith("LC_"):
        return True
    return (name.startswith("LIMA_") and name != "LIMA_SSH_PORT_FORWARDER"
            and not any(w in name for w in SECRET_WORDS))


class DvmEnv:
    """One isolated dvm installation: config, state, a home and a simulated LIMA_HOME."""

    def __init__(self, tmp_path, sim):
        self.tmp = tmp_path
        self.sim = sim
        self.config = tmp_path / "config"
        self.state = tmp_path / "state"
        self.home = tmp_path / "home"
        self.tmpdir = tmp_path / "tmp"
        for d in (self.config / "vms", self.state, self.home, self.tmpdir):
            d.mkdir(parents=True, exist_ok=True)
        self.extra = {}
        if REAL_LIMACTL:
            self.global_config(f'[defaults]\nuser = "{GUEST_USER}"\n')

    def environ(self, **extra):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.tmpdir),
            "DVM_CONFIG": str(self.config),
            "DVM_STATE": str(self.state),
            "LIMACTL": self.sim.limactl,
            "LIMA_HOME": self.sim.home,
        }
        env.update(self.extra)
        env.update({k: str(v) for k, v in extra.items() if v is not None})
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
        return env

    def vm(self, name, text):
        path = self.config / "vms" / f"{name}.toml"
        path.write_text(text)
        return path

    def recipe(self, name, body, description="test recipe"):
        d = self.config / "recipes"
        d.mkdir(exist_ok=True)
        (d / f"{name}.sh").write_text(f"# Description: {description}\n{body}")

    def global_config(self, text):
        (self.config / "config.toml").write_text(text)

    def run(self, *args, input=None, env=None, timeout=180, binary=False):
        r = subprocess.run([DVM, *args], input=input, env=self.environ(**(env or {})),
                           capture_output=True, timeout=timeout, text=not binary,
                           cwd=str(self.tmp))
        return r

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, f"dvm {' '.join(args)} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        return r

    def json(self, *args, **kw):
        r = self.ok(*args, "--json", **kw)
        return json.loads(r.stdout)

    def subcommands(self):
        return [c["subcommand"] for c in self.sim.calls()]

    def guest(self, vm, script, user=None, check=True):
        """Run a bash script in a running guest (not recorded); returns stdout text."""
        r = self.sim.guest_run("dvm-" + vm, script, user=user)
        if check:
            assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout.decode(errors="replace")


# A recipe that holds a sync in the guest until the test lets it go: it marks its arrival and
# waits for the release file (both in the guest's /tmp). A condition, not a stopwatch: the test
# acts while the sync is certainly inside the recipe (wait_held), then releases it.
HOLD_RECIPE = """touch /tmp/dvm-test-held
for _ in $(seq 1200); do
  if [ -e /tmp/dvm-test-release ]; then return 0; fi
  sleep 0.1
done
echo "dvm test: the held recipe was never released" >&2
return 1
"""


def wait_held(env, vm, timeout=120):
    """Waits until a sync of `vm` (which may still be creating the VM) is inside HOLD_RECIPE."""
    def held():
        if env.sim.status("dvm-" + vm) != "Running":
            return False
        return env.guest(vm, "test -e /tmp/dvm-test-held && echo held", user="root", check=False).strip() == "held"
    wait_until(held, timeout=timeout, what=f"the sync of {vm} to reach the held recipe")


def release_held(env, vm):
    env.guest(vm, "touch /tmp/dvm-test-release", user="root")


def install_guest_stubs(env, vm):
    """The network-tool stand-ins (recipetools.install_guest_stubs) into VM's guest."""
    _install_stubs(env.sim, "dvm-" + vm)


def new_lima(tmp_path):
    """The simulator, or with DVM_TEST_LIMACTL a real Lima behind the recording wrapper."""
    if REAL_LIMACTL:
        return real_lima_fixture.RealLima(tmp_path, REAL_LIMACTL)
    return LimaSim(tmp_path)


def require_sandbox():
    """Call inside a test that runs guests: skips it where the simulator's guest sandbox cannot
    run (a real Lima needs no sandbox)."""
    if not REAL_LIMACTL:
        _require_simulator_sandbox()


@pytest.fixture
def dvm(tmp_path):
    sim = new_lima(tmp_path)
    env = DvmEnv(tmp_path, sim)
    try:
        yield env
    finally:
        sim.cleanup()


@pytest.fixture
def sandbox():
    """Skips the test, with the reason, where the simulator's guest sandbox cannot run."""
    require_sandbox()


def assert_clean_calls(env):
    """Every limactl call dvm made got only allowlisted variables and fds 0-2."""
    for c in env.sim.calls():
        bad = sorted(k for k in c["env"] if not allowed_env_name(k))
        assert not bad, f"limactl {c['argv']} got variables outside the allowlist: {bad}"
        assert c["extra_fds"] == [], f"limactl {c['argv']} inherited fds {c['extra_fds']}"


@pytest.fixture(autouse=True)
def _limactl_calls_are_clean(request):
    """After every test: each recorded limactl call of its dvm environments was clean."""
    yield
    for value in request.node.funcargs.values():
        if isinstance(value, DvmEnv):
            assert_clean_calls(value)


@contextlib.contextmanager
def shared_env(tmp_path_factory, label, vms, sync=()):
    """A DvmEnv for a whole test module (a VM is slow to create): writes the VM files, syncs the
    VMs named in `sync`, and cleans the simulator up at the end. Skips without the sandbox."""
    require_sandbox()
    tmp = tmp_path_factory.mktemp(label)
    sim = new_lima(tmp)
    env = DvmEnv(tmp, sim)
    try:
        for name, text in vms.items():
            env.vm(name, text)
        for name in sync:
            env.ok("sync", name)
        yield env
    finally:
        sim.cleanup()


# --- a real Lima (DVM_TEST_LIMACTL; README-real-lima.md) ----------------------------------------


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_simulator(what): the test needs the Lima simulator for `what` (fault "
                   "injection, its fake version, the guest's files seen from the host, ...); it is "
                   "skipped against a real Lima (DVM_TEST_LIMACTL)")
    if REAL_LIMA_ENTRY and not REAL_LIMACTL:
        # ctest maps this exit code (pytest's "no tests collected") to "skipped".
        pytest.exit("real-lima: DVM_TEST_LIMACTL is not set, nothing to run "
                    "(see tests/e2e/README-real-lima.md)", returncode=5)
    if REAL_LIMACTL:
        ok, what = real_lima_fixture.probe(REAL_LIMACTL)
        if not ok:  # e.g. "must not run as the root user"
            pytest.exit(f"real-lima: {what}", returncode=1)
        config._dvm_real_lima_version = what


def pytest_report_header(config):
    if REAL_LIMACTL:
        return [f"real Lima: {REAL_LIMACTL} ({getattr(config, '_dvm_real_lima_version', '?')}), "
                f"download cache {real_lima_fixture.default_cache_dir()}"]
    return []


def pytest_collection_modifyitems(config, items):
    if not REAL_LIMACTL:
        return
    for item in items:
        for mark in item.iter_markers("needs_simulator"):
            what = mark.args[0] if mark.args else "the simulator"
            item.add_marker(pytest.mark.skip(reason=f"needs the Lima simulator: {what}"))
            break


def pytest_sessionfinish(session, exitstatus):
    # With a real limactl, "no tests collected" is a broken set-up, not a skip.
    if REAL_LIMA_ENTRY and REAL_LIMACTL and exitstatus == 5:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, config):
    if REAL_LIMACTL:
        t = real_lima_fixture.totals
        version = getattr(config, "_dvm_real_lima_version", "?")
        terminalreporter.write_line(f"real Lima: {REAL_LIMACTL} ({version}): {t['create']} VMs created, "
                                    f"{t['start']} started")
