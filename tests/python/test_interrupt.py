"""Blocking calls stay interruptible: SIGINT (Ctrl-C) during a hanging limactl call raises
KeyboardInterrupt in Python, and the limactl child is gone. An exception raised by an event
callback cancels the call the same way and is raised by it, never lost."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import dvm
from limasim_fixture import wait_until

# Runs in a child Python: one blocking call, then reports how it ended.
SCRIPT = textwrap.dedent("""
    import json, sys, time
    import dvm
    settings = json.loads(sys.argv[1])
    client = dvm.Client(**settings["client"])
    started = time.monotonic()
    print("ready", flush=True)
    try:
        if settings["call"] == "sync":
            client.sync("app", secrets={"TOKEN": "s3cret"})
        elif settings["call"] == "sync_all":
            client.sync_all(jobs=2)
        else:
            client.list()
    except KeyboardInterrupt:
        print("KeyboardInterrupt after %.2f s" % (time.monotonic() - started), flush=True)
        sys.exit(42)
    except dvm.Error as e:
        print("dvm.Error", e.code, e, flush=True)
        sys.exit(1)
    print("returned", flush=True)
""")


def python_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(dvm.__file__))
    return env


def wait_for_hanging_call(sim, pid, subcommand, timeout=30):
    """The pid of the running `limactl <subcommand>` started on behalf of process `pid`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in sim.processes():
            if p == pid:
                continue
            try:
                argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if any(a.endswith(b"limactl") for a in argv) and subcommand.encode() in argv:
                return p
        time.sleep(0.05)
    raise AssertionError(f"limactl {subcommand} never started")


def catches_sigterm(pid: int) -> bool:
    try:
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def interrupt(env, call, subcommand):
    settings = {
        "call": call,
        "client": {"config_dir": str(env.config), "state_dir": str(env.state), "limactl": env.sim.limactl,
                   "environment": {"PATH": "/usr/bin:/bin", "HOME": str(env.home), "LIMA_HOME": env.sim.home}},
    }
    import json
    child = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(settings)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=python_env())
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        limactl = wait_for_hanging_call(env.sim, child.pid, subcommand)
        # The call blocks while limactl runs; wait until the simulator has its SIGTERM handler
        # (it records how the call ended), so the interrupt lands well inside the call.
        wait_until(lambda: catches_sigterm(limactl), what=f"limactl {subcommand} to install its handlers")
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, out, err, elapsed, limactl


def test_sigint_during_a_hanging_query_raises_keyboard_interrupt(nosandbox_env):
    nosandbox_env.sim.add_fault(subcommand="list", action="hang")
    code, out, err, elapsed, limactl = interrupt(nosandbox_env, "list", "list")
    assert code == 42, (out, err)
    assert out.startswith("KeyboardInterrupt after"), (out, err)
    assert elapsed < 5
    assert not os.path.exists(f"/proc/{limactl}") or open(f"/proc/{limactl}/stat").read().split()[2] == "Z"
    assert nosandbox_env.sim.wait_no_processes(10) == []
    hung = [c for c in nosandbox_env.sim.calls() if c["subcommand"] == "list"]
    assert len(hung) == 1 and hung[0]["exit_code"] is None and hung[0]["signal"] == signal.SIGTERM


def test_sigint_during_a_hanging_sync_leaves_no_process(nosandbox_env):
    env = nosandbox_env
    env.vm("app", "baseline = false\n")
    env.sim.add_fault(subcommand="start", action="hang")
    code, out, err, elapsed, _ = interrupt(env, "sync", "start")
    assert code == 42 and out.startswith("KeyboardInterrupt"), (out, err)
    assert elapsed < 10
    assert env.sim.wait_no_processes(10) == []
    # the VM lock was released: the next call is not refused as busy
    env.sim.configure(faults=[])
    lock_free = dvm.Client(config_dir=env.config, state_dir=env.state, limactl=env.sim.limactl,
                           environment=env.environment()).remove("app", force=True)
    assert lock_free.removed


def test_sigint_during_sync_all_cancels_every_vm(nosandbox_env):
    env = nosandbox_env
    for name in ("one", "two"):
        env.vm(name, "baseline = false\n")
    env.sim.add_fault(subcommand="create", action="hang")
    code, out, err, elapsed, _ = interrupt(env, "sync_all", "create")
    assert code == 42 and out.startswith("KeyboardInterrupt"), (out, err)
    assert env.sim.wait_no_processes(10) == []


class Stop(Exception):
    pass


def test_callback_exception_cancels_the_call_and_is_raised(nosandbox_env):
    env = nosandbox_env
    env.sim.add_fault(subcommand="list", action="hang")
    seen = []

    def on_event(e):
        seen.append(e.kind)
        if e.kind == dvm.EventKind.LIMACTL_STARTED and e.name == "list":
            raise Stop("enough")

    started = time.monotonic()
    with pytest.raises(Stop, match="enough"):
        env.client().list(on_event=on_event)
    assert time.monotonic() - started < 10
    assert seen[-1] == dvm.EventKind.LIMACTL_STARTED  # no event after the one that raised
    assert env.sim.wait_no_processes(10) == []
    # killed at once (possibly before the simulator could even record the call)
    assert all(c["exit_code"] is None for c in env.sim.calls() if c["subcommand"] == "list")


def test_callback_exception_on_the_last_event_is_not_lost(nosandbox_env):
    env = nosandbox_env

    def on_event(e):
        if e.kind == dvm.EventKind.LIMACTL_FINISHED and e.name == "list":
            raise Stop("late")

    with pytest.raises(Stop, match="late"):
        env.client().list(on_event=on_event)
