"""Call recording (_sim/calls.jsonl) and fault injection."""

import json
import os
import signal
import subprocess
import time

from limasim_fixture import DEFAULT_YAML, log_text, wait_until


def test_call_record_fields(limasim, tmp_path):
    env = limasim.env(FOO="bar")
    r = limasim.run("--tty=false", "create", "--name", "a", "-", stdin=DEFAULT_YAML, env=env, cwd=str(tmp_path))
    assert r.returncode == 0
    (c,) = limasim.calls()
    assert c["call"] == 1
    assert c["argv"] == ["--tty=false", "create", "--name", "a", "-"]
    assert c["argv0"] == limasim.limactl
    assert c["subcommand"] == "create" and c["instance"] == "a"
    assert c["env"] == env
    assert c["cwd"] == str(tmp_path)
    assert c["stdin_bytes"] == len(DEFAULT_YAML)
    assert c["exit_code"] == 0 and c["signal"] is None
    assert c["extra_fds"] == []
    assert c["end"] >= c["start"] > 0 and c["pid"] > 0


def test_leaked_fds_are_reported(limasim):
    r, w = os.pipe()
    try:
        subprocess.run([limasim.limactl, "list"], env=limasim.env(), pass_fds=(w,), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    finally:
        os.close(r)
        os.close(w)
    assert limasim.calls()[-1]["extra_fds"] == [w]


def test_parallel_calls_are_numbered_uniquely(limasim):
    procs = [subprocess.Popen([limasim.limactl, "list", "--json"], env=limasim.env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(8)]
    for p in procs:
        p.wait()
    assert sorted(c["call"] for c in limasim.calls()) == list(range(1, 9))


def test_internal_runs_are_not_recorded(limasim):
    limasim.create_instance("a", running=False)
    assert limasim.calls() == []


def test_latency(limasim):
    limasim.configure(latency_ms=300)
    t = time.time()
    limasim.run("list")
    assert time.time() - t >= 0.3


def test_fail_with_times(limasim):
    limasim.add_fault(action="fail", subcommand="list", times=1, exit_code=7, message="injected: disk full")
    r1 = limasim.run("list", "--json")
    r2 = limasim.run("list", "--json")
    assert r1.returncode == 7 and r1.stdout == b""
    assert log_text(r1.stderr) == "fatal: injected: disk full"
    assert r2.returncode == 0
    calls = limasim.calls()
    assert calls[0]["faults"][0]["message"] == "injected: disk full" and calls[0]["exit_code"] == 7
    assert calls[1]["faults"] == []


def test_fail_matches_instance_and_argv(limasim):
    limasim.create_instance("a", running=False)
    limasim.create_instance("b", running=False)
    limasim.add_fault(action="fail", subcommand="start", instance="b", stderr="custom\n", exit_code=1)
    limasim.add_fault(action="fail", subcommand="list", argv_contains=["b"])
    assert limasim.run("start", "a").returncode == 0
    r = limasim.run("start", "b")
    assert r.returncode == 1 and r.stderr == b"custom\n"
    assert limasim.run("list", "--json", "a").returncode == 0
    assert limasim.run("list", "--json", "b").returncode == 1


def test_garbage(limasim):
    limasim.create_instance("a", running=False)
    limasim.add_fault(action="garbage", subcommand="list", stdout='{"name":"a","status":', times=1)
    r = limasim.run("list", "--json")
    assert r.returncode == 0 and r.stdout == b'{"name":"a","status":'
    r = limasim.run("list", "--json")
    assert json.loads(r.stdout)["name"] == "a"


def test_slow(limasim):
    limasim.add_fault(action="slow", subcommand="list", ms=400)
    limasim.add_fault(action="slow", subcommand="list", ms=200, times=1)
    t = time.time()
    limasim.run("list")
    assert time.time() - t >= 0.6  # slow faults add up
    t = time.time()
    limasim.run("list")
    assert time.time() - t >= 0.4


def test_hang_until_killed_leaves_nothing(limasim):
    limasim.add_fault(action="hang", subcommand="list")
    p = subprocess.Popen([limasim.limactl, "list", "--json"], env=limasim.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    wait_until(lambda: limasim.faults_fired() == 1, what="limactl list to reach its hang fault")
    assert p.poll() is None
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == -signal.SIGTERM and out == b""
    (c,) = limasim.calls()
    assert c["signal"] == signal.SIGTERM and c["exit_code"] is None
    assert limasim.wait_no_processes() == []


def test_hang_sigkill(limasim):
    limasim.add_fault(action="hang", subcommand="*")
    p = subprocess.Popen([limasim.limactl, "stop", "a"], env=limasim.env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_until(lambda: limasim.faults_fired() == 1, what="limactl stop to reach its hang fault")
    p.kill()
    p.wait()
    assert limasim.wait_no_processes() == []


def test_invalid_fault_is_loud(limasim):
    limasim.configure(faults=[{"action": "explode"}])
    r = limasim.run("list")
    assert r.returncode != 0 and b"invalid fault" in r.stderr
