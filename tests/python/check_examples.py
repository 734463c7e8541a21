"""Runs the example programs against the Lima simulator (ctest: example.cpp, example.python).

Not collected with the python.* suites (the file name has no test_ prefix); ctest runs it as
    python3 -m pytest tests/python/check_examples.py -k cpp_example|python_example
with DVM_EXAMPLE_CPP=<build>/examples/cpp/sync_status and PYTHONPATH=<build>/python.
"""

import os
import subprocess
import sys

import pytest

from conftest import SOURCE, DvmEnv, LimaSim, require_sandbox

EXAMPLES = os.path.join(SOURCE, "examples")
VM = 'baseline = false\ncpus = 1\nmemory = "1GiB"\nrecipes = ["hello"]\n'


@pytest.fixture
def env(tmp_path):
    require_sandbox()
    sim = LimaSim(tmp_path)
    e = DvmEnv(tmp_path, sim)
    e.recipe("hello", 'echo "hello from $DVM_NAME"\n')
    try:
        yield e
    finally:
        sim.cleanup()


def run(env, argv, **kw):
    environ = env.environment(**kw)
    if "PYTHONPATH" in os.environ:
        environ["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=300, cwd=str(env.tmp))


def test_cpp_example_syncs_one_vm_and_prints_the_table(env):
    binary = os.environ.get("DVM_EXAMPLE_CPP")
    if not binary:
        pytest.skip("DVM_EXAMPLE_CPP is not set (ctest sets it)")
    env.vm("app", VM)
    env.vm("other", VM)
    r = run(env, [binary, "app"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "syncing app"
    assert "  app: creating dvm-app" in lines and "  app: starting dvm-app" in lines
    assert any(l.startswith("  app: recipe hello ... done (") for l in lines), r.stdout
    assert any(l.startswith("synced app in ") and l.endswith("(created)") for l in lines)
    header = lines.index(next(l for l in lines if l.startswith("NAME")))
    table = [l.split() for l in lines[header:]]
    assert table[0] == ["NAME", "STATE", "CPUS", "MEMORY", "DISK", "SSH"]
    assert table[1][:4] == ["app", "Running", "1", "1.0GiB"] and table[1][5].startswith("127.0.0.1:")
    assert table[2][:2] == ["other", "absent"]
    assert env.guest("app", "true") == ""

    env.vm("bad", 'baseline = false\ncpus = "many"\n')
    r = run(env, [binary, "bad"])
    assert r.returncode == 2 and "config error in" in r.stderr and "bad.toml line 2" in r.stderr


def test_python_example_syncs_the_matching_vms(env):
    for name in ("web-1", "web-2", "db"):
        env.vm(name, VM)
    script = os.path.join(EXAMPLES, "python", "sync_matching.py")
    r = run(env, [sys.executable, script, "web-*", "--jobs", "2"])
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert out.startswith("syncing 2 VM(s): web-1, web-2\n")
    assert "[web-1] recipe_finished: hello" in out and "[web-2] recipe_finished: hello" in out
    rows = {l.split()[0]: l.split() for l in out.splitlines() if l.startswith("web-")}
    assert rows["web-1"][1:3] == ["ok", "1"] and rows["web-2"][1:3] == ["ok", "1"]
    assert out.rstrip().endswith("2 ok, 0 failed")
    assert "db" not in rows and not os.path.exists(os.path.join(env.sim.home, "dvm-db"))

    # with a secret, through Client.sync
    env.recipe("hello", 'echo "hello from $DVM_NAME"\ndvm_secret TOKEN >"$HOME/token"\n')
    r = run(env, [sys.executable, script, "web-2", "--secret", "TOKEN"], TOKEN="abc123")
    assert r.returncode == 0, r.stdout + r.stderr
    assert env.guest("web-2", "cat ~/token", user="developer") == "abc123"

    r = run(env, [sys.executable, script, "nothing-*"])
    assert r.returncode == 2 and "no configured VM matches" in r.stderr
