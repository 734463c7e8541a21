"""Fault injection: limactl printing garbage, hanging, or disappearing mid-sync, and config files
vanishing during `sync --all`. Nothing crashes, errors are clear, locks are released and no
secret or process is left behind. (Signals, dropped connections and two concurrent syncs are
in test_sync.py.)"""

import errno
import json
import os
import shutil
import tempfile
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DVM, HOLD_RECIPE, release_held, wait_held

GUEST_USER = "developer"


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
@pytest.mark.parametrize("garbage", ["{not json", '{"name": "dvm-app", "status": "Runn', "[1, 2, 3]",
                                     '{"status": "Running"}', "\x00\x01\x02binary"])
def test_garbage_or_truncated_list_json_is_a_clear_error(dvm, garbage):
    dvm.vm("app", "")
    dvm.sim.add_fault(action="garbage", subcommand="list", stdout=garbage)
    for args in (["ls"], ["status", "app"], ["sync", "app"]):
        r = dvm.run(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert "limactl list --json printed an unreadable record" in r.stderr
        assert "Segmentation" not in r.stderr and "terminate called" not in r.stderr
    assert "create" not in dvm.subcommands()


@pytest.mark.usefixtures("sandbox")
def test_a_guest_program_that_hangs_times_out_and_cleans_up(dvm):
    dvm.recipe("inspect", 'printf %s "$DVM_SECRET_FILE_MY_TOKEN" >"$HOME/secret.path"\n')
    dvm.recipe("stuck", "sleep 60\n")
    dvm.vm("app", 'baseline = false\nrecipes = ["inspect"]\nsecrets = ["MY_TOKEN"]\n')
    dvm.ok("sync", "app", env={"MY_TOKEN": "t"})
    dvm.vm("app", 'baseline = false\nrecipes = ["inspect", "stuck"]\nsecrets = ["MY_TOKEN"]\n')
    started = time.monotonic()
    r = dvm.run("sync", "app", env={"MY_TOKEN": "hang-secret", "DVM_TIMEOUT": "4"})
    assert time.monotonic() - started < 20
    assert r.returncode == 1
    assert "did not finish within 4 s and was killed" in r.stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = dvm.guest("app", "find /run/dvm-secrets -mindepth 1 2>/dev/null || true", user="root").strip()
        stuck = dvm.guest("app", "pgrep -f 'sleep 6[0]' || true", user="root").strip()
        if not left and not stuck:
            break
        time.sleep(0.3)
    assert left == "" and stuck == ""
    dvm.vm("app", "baseline = false\n")
    dvm.ok("sync", "app")  # the lock was released


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_a_hanging_limactl_before_the_guest_is_killed(dvm):
    dvm.vm("app", "")
    dvm.sim.add_fault(action="hang", subcommand="list")
    started = time.monotonic()
    r = dvm.run("sync", "app", env={"DVM_TIMEOUT": "2"})
    assert time.monotonic() - started < 10
    assert r.returncode == 1 and "limactl list did not finish within 2 s" in r.stderr
    dvm.sim.wait_no_processes(timeout=10)
    assert dvm.sim.processes() == []


@pytest.mark.usefixtures("sandbox")
def test_vm_files_vanishing_during_sync_all(dvm):
    dvm.recipe("hold", HOLD_RECIPE)
    dvm.vm("a1", 'baseline = false\nrecipes = ["hold"]\n')
    dvm.vm("b2", "baseline = false\n")
    dvm.vm("c3", "baseline = false\n")
    os.symlink(dvm.tmp / "nowhere.toml", dvm.config / "vms" / "d4.toml")  # a dangling link
    p = subprocess.Popen([DVM, "sync", "--all", "-j", "1"], env=dvm.environ(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_held(dvm, "a1")  # a1 is inside its recipe; b2, c3 and d4 are not loaded yet
        os.remove(dvm.config / "vms" / "c3.toml")
    finally:
        release_held(dvm, "a1")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert "2 ok, 2 failed" in out
    assert "sync failed: c3" in err and "sync failed: d4" in err
    assert dvm.sim.status("dvm-a1") == "Running" and dvm.sim.status("dvm-b2") == "Running"


def test_an_unreadable_vm_file_fails_only_that_vm(dvm):
    if os.geteuid() != 0:
        dvm.vm("good", "baseline = false\n")
        path = dvm.vm("secret", "")
        os.chmod(path, 0)
        r = dvm.run("plan", "secret")
        # A host problem, not a config error: errc::io (exit 1) with the operating system's cause.
        assert r.returncode == 1 and "cannot read the config file" in r.stderr
        assert "Permission denied" in r.stderr
        return
    # Root reads files whatever their mode: run dvm as `nobody` (setpriv, util-linux) from a
    # world-readable directory that holds the config, a state dir and a copy of the binary
    # (the build tree may sit in a 0700 directory).
    base = Path(tempfile.mkdtemp(prefix="dvm-unreadable-"))
    try:
        os.chmod(base, 0o755)
        (base / "vms").mkdir(mode=0o755)
        (base / "state").mkdir(mode=0o777)
        (base / "vms" / "good.toml").write_text("baseline = false\n")
        (base / "vms" / "secret.toml").write_text("")
        os.chmod(base / "vms" / "good.toml", 0o644)
        os.chmod(base / "vms" / "secret.toml", 0)
        binary = base / "dvm"
        shutil.copy2(DVM, binary)
        os.chmod(binary, 0o755)
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "DVM_CONFIG": str(base),
               "DVM_STATE": str(base / "state")}
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(binary)]
        r = subprocess.run(as_nobody + ["plan", "secret"], env=env, capture_output=True, text=True, timeout=60)
        # A host problem, not a config error: errc::io (exit 1) with the operating system's cause.
        assert r.returncode == 1 and "cannot read the config file" in r.stderr, r.stderr
        assert "Permission denied" in r.stderr, r.stderr
        r = subprocess.run(as_nobody + ["--json", "plan", "secret"], env=env, capture_output=True, text=True,
                           timeout=60)
        doc = json.loads(r.stdout)
        assert doc["error"]["code"] == "io" and doc["error"]["errno"] == errno.EACCES, r.stdout
        # Only that VM: the readable one still plans.
        r = subprocess.run(as_nobody + ["plan", "good"], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "# dvm plan for good" in r.stdout, r.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.needs_simulator("fault injection (a start that fails before the host agent runs)")
def test_a_failed_start_never_shows_the_previous_boots_log(dvm):
    dvm.vm("app", "baseline = false\n")
    dvm.ok("sync", "app")
    dvm.ok("stop", "app")
    log = Path(dvm.sim.instance_dir("dvm-app")) / "ha.stderr.log"
    with open(log, "a", encoding="utf-8") as f:
        f.write('{"level":"info","msg":"OLD-BOOT-MARKER","time":"2026-01-01T00:00:00Z"}\n')
    # limactl start fails before its host agent starts: the log is still the previous boot's.
    dvm.sim.configure(faults=[{"subcommand": "start", "action": "fail", "message": "disk image is locked"}])
    r = dvm.run("start", "app")
    assert r.returncode == 1 and "disk image is locked" in r.stderr, r.stderr
    assert "OLD-BOOT-MARKER" not in r.stderr and "host agent log" not in r.stderr
    dvm.sim.configure(faults=[])
    dvm.ok("start", "app")


@pytest.mark.needs_simulator("fault injection (limactl shell failing before the guest runs)")
def test_a_shell_that_fails_before_the_guest_program_runs_is_a_lima_failure(dvm):
    dvm.vm("app", "baseline = false\n")
    dvm.ok("sync", "app")
    dvm.sim.configure(faults=[{"subcommand": "shell", "action": "fail", "exit_code": 255,
                               "stderr": "ssh: connect to host 127.0.0.1 port 60022: Connection refused\n"}])
    r = dvm.run("sync", "app", "--json")
    dvm.sim.configure(faults=[])
    assert r.returncode == 1
    err = json.loads(r.stdout.splitlines()[-1])["error"]
    assert err["code"] == "lima_failed", err
    assert "before the guest program printed anything" in err["message"]
    assert "Connection refused" in err["message"]
