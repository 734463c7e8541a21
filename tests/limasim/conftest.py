import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from limasim_fixture import LimaSim  # noqa: E402


@pytest.fixture
def limasim(request, tmp_path):
    """A fresh LIMA_HOME per test.  Modules that do not set USES_SANDBOX = True run with
    `sandbox: off` (no guest root is built, which keeps the CLI-only tests fast)."""
    uses = getattr(request.module, "USES_SANDBOX", False)
    sim = LimaSim(tmp_path, **({} if uses else {"sandbox": "off"}))
    yield sim
    sim.cleanup()


@pytest.fixture(scope="module")
def shared_sim(tmp_path_factory):
    """One LIMA_HOME per test module (for tests that only need a booted guest)."""
    sim = LimaSim(tmp_path_factory.mktemp("m"))
    yield sim
    sim.cleanup()
