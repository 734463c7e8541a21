"""pytest plugin of every Python suite that ctest runs (tests/CMakeLists.txt loads it with
`-p dvm_skip_rules`): a skip never looks like a pass (tests/README.md, "Skips").

- When any test skipped and none failed, pytest exits with SKIP_EXIT (77), which ctest maps to
  "Skipped" (SKIP_RETURN_CODE). Not for the real-Lima entry (DVM_TEST_REAL_LIMA=1): there the
  tests that need the simulator skip by design, are listed with -rs, and exit 5 keeps meaning
  "no real Lima configured".
- With DVM_REQUIRE_SANDBOX=1 (CI, as root), a test skipped because the Lima simulator's guest
  sandbox is unavailable fails instead: CI must not go green by running nothing.
"""

from __future__ import annotations

import os

import pytest

SKIP_EXIT = 77
# Every skip for lack of the simulator's guest sandbox says this (tests/limasim/limasim_fixture.py
# _skip_reason, tests/recipes/test_guest.py, and test_helpers.py's sudo/bwrap skips).
SANDBOX_PHRASE = "guest sandbox unavailable"

_skipped = 0


def sandbox_required() -> bool:
    return os.environ.get("DVM_REQUIRE_SANDBOX") == "1"


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _enforce(report) -> None:
    global _skipped
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    if sandbox_required() and SANDBOX_PHRASE in reason:
        report.outcome = "failed"
        report.longrepr = f"DVM_REQUIRE_SANDBOX=1, so this is a failure, not a skip: {reason}"
    else:
        _skipped += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _enforce(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _enforce(outcome.get_result())


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("DVM_TEST_REAL_LIMA") == "1":
        return
    # 5: every test of the file skipped at collection (nothing left to run).
    if _skipped and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = SKIP_EXIT


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped and os.environ.get("DVM_TEST_REAL_LIMA") != "1":
        terminalreporter.write_line(f"dvm: {_skipped} skipped: exit {SKIP_EXIT}, ctest reports this file as skipped")
