"""Fixtures for the tests of the Python package `dvm` against the Lima simulator.

ctest runs these with PYTHONPATH=<build>/python (the build tree's package). Run by hand:

    PYTHONPATH=build/py/python /usr/bin/python3 -m pytest tests/python -q

    def test_x(dvmenv):
        dvmenv.vm("app", 'baseline = false\\n')
        client = dvmenv.client()
        client.sync("app")
        assert dvmenv.sim.guest_run("dvm-app", "true").returncode == 0
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("DVM_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("DVM_BUILD_DIR") or os.path.join(SOURCE, "build", "py")
sys.path.insert(0, os.path.join(SOURCE, "tests", "limasim"))

if not any(os.path.isfile(os.path.join(p, "dvm", "__init__.py")) for p in sys.path if p):
    sys.path.insert(0, os.path.join(BUILD, "python"))  # a build tree without PYTHONPATH set

try:
    import dvm  # noqa: E402
except ImportError:  # the C++ example's check runs without the Python module
    dvm = None
from limasim_fixture import LimaSim, require_sandbox  # noqa: E402

GUEST_USER = "developer"  # the host login is root here, and root is never the guest user
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class DvmEnv:
    """One isolated dvm setup: config and state directories, a home, and a simulated LIMA_HOME."""

    def __init__(self, tmp_path, sim):
        self.tmp = tmp_path
        self.sim = sim
        self.config = tmp_path / "config"
        self.state = tmp_path / "state"
        self.home = tmp_path / "home"
        self.tmpdir = tmp_path / "tmp"
        for d in (self.config / "vms", self.state, self.home, self.tmpdir):
            d.mkdir(parents=True, exist_ok=True)

    def environment(self, **extra):
        """The variables dvm reads, for Client(environment=...) or a subprocess."""
        env = {
            "PATH": PATH,
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.tmpdir),
            "DVM_CONFIG": str(self.config),
            "DVM_STATE": str(self.state),
            "LIMACTL": self.sim.limactl,
            "LIMA_HOME": self.sim.home,
        }
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def client(self, **kw):
        """A Client with explicit directories and limactl, and a minimal environment."""
        env = self.environment()
        for k in ("DVM_CONFIG", "DVM_STATE", "LIMACTL"):
            del env[k]
        return dvm.Client(config_dir=self.config, limactl=self.sim.limactl, state_dir=self.state,
                          environment=env, **kw)

    def vm(self, name, text):
        path = self.config / "vms" / f"{name}.toml"
        path.write_text(text)
        return path

    def recipe(self, name, body, description="test recipe"):
        d = self.config / "recipes"
        d.mkdir(exist_ok=True)
        (d / f"{name}.sh").write_text(f"# Description: {description}\n{body}")

    def guest(self, vm, script, user=None):
        """Runs a bash script in a running guest (not recorded); returns its stdout text."""
        r = self.sim.guest_run("dvm-" + vm, script, user=user)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout.decode(errors="replace")


@pytest.fixture
def dvmenv(tmp_path):
    """A fresh simulator and config per test; every instance is force-stopped afterwards."""
    sim = LimaSim(tmp_path)
    try:
        yield DvmEnv(tmp_path, sim)
    finally:
        sim.cleanup()


@pytest.fixture
def nosandbox_env(tmp_path):
    """The simulator without its guest sandbox: instances boot, list and stop, but nothing runs
    in a guest. For tests that only need limactl's bookkeeping."""
    sim = LimaSim(tmp_path, sandbox="off")
    try:
        yield DvmEnv(tmp_path, sim)
    finally:
        sim.cleanup()


@pytest.fixture
def sandbox():
    """Skips the test, with the reason, where the simulator's guest sandbox cannot run."""
    require_sandbox()
