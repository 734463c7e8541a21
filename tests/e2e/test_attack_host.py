"""Attacks on the host side (issue 10, item 8), through the `dvm` CLI against the Lima simulator.

* Links planted in the state dir ($DVM_STATE: locks/, cache/, scratch/) are refused with an
  io error naming the path and the rule; their targets (a stand-in ~/.bashrc, a stand-in /etc)
  keep their content, mode and entries, and `dvm rm` refuses before it deletes anything.
* A state dir that others can write to is refused; a new one is created 0700.
* dvm runs with core dumps off (its environment holds the secrets of `VAR=... dvm sync`).
* Every `dvm sync` warns about each port bound beyond loopback, also through [defaults] host_ip.
"""

import json
import os
import stat
import subprocess

import pytest

from conftest import DVM, shared_env

BASHRC = "export PS1='$ '  # the user's own\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    vm = 'baseline = false\nrecipes = ["pause"]\nports = ["38080:8080", "127.0.0.1:38081:8081"]\n'
    with shared_env(tmp_path_factory, "attack-host", {"app": vm}) as e:
        e.global_config('[defaults]\nhost_ip = "0.0.0.0"\n')
        # A recipe that gives the core-dump test time to look at the running dvm.
        e.recipe("pause", 'sleep "${DVM_PAUSE:-0}"\n')
        e.ok("sync", "app")
        yield e


@pytest.fixture
def victim(env):
    """A stand-in ~/.bashrc (0644) and a stand-in /etc (one file) the attacker points links at;
    yields their paths and afterwards checks nothing happened to them."""
    home = env.home
    bashrc = home / ".bashrc"
    etc = env.tmp / "fake-etc"
    etc.mkdir(exist_ok=True)
    bashrc.write_text(BASHRC)
    os.chmod(bashrc, 0o644)
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    yield bashrc, etc
    assert bashrc.read_text() == BASHRC, "the link's target was written"
    assert stat.S_IMODE(os.lstat(bashrc).st_mode) == 0o644
    assert sorted(os.listdir(etc)) == ["passwd"], "a file was created through the link"
    assert not (home / "new-file").exists()


def reset_state(env):
    """The state dir as a fresh dvm would leave it (no plants)."""
    for sub in ("locks", "cache", "scratch"):
        p = env.state / sub
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            for entry in p.iterdir():
                entry.unlink()
    os.chmod(env.state, 0o700)


def plant(env, bashrc, etc, where):
    s = env.state
    for sub in ("locks", "cache", "scratch"):
        if not (s / sub).is_symlink():
            (s / sub).mkdir(mode=0o700, exist_ok=True)
    if where == "lock-file":
        (s / "locks" / "app.lock").symlink_to(bashrc)
        return s / "locks" / "app.lock", "is a symbolic link"
    if where == "lock-file-dangling":
        (s / "locks" / "app.lock").symlink_to(env.home / "new-file")
        return s / "locks" / "app.lock", "is a symbolic link"
    if where == "lock-file-hardlink":
        os.link(bashrc, s / "locks" / "app.lock")
        return s / "locks" / "app.lock", "has 2 hard links"
    if where == "locks-dir":
        (s / "locks").rmdir()
        (s / "locks").symlink_to(etc)
        return s / "locks", "is a symbolic link"
    if where == "cache-dir":
        (s / "cache").rmdir()
        (s / "cache").symlink_to(etc)
        return s / "cache", "is a symbolic link"
    if where == "version-cache":
        (s / "cache" / "limactl-version.json").symlink_to(bashrc)
        return s / "cache" / "limactl-version.json", "is a symbolic link"
    if where == "scratch-dir":
        (s / "scratch").rmdir()
        (s / "scratch").symlink_to(etc)
        return s / "scratch", "is a symbolic link"
    raise AssertionError(where)


PLANTS = ["lock-file", "lock-file-dangling", "lock-file-hardlink", "locks-dir", "cache-dir",
          "version-cache", "scratch-dir"]


@pytest.mark.parametrize("where", PLANTS)
def test_links_planted_in_the_state_dir_are_refused(env, victim, where):
    bashrc, etc = victim
    reset_state(env)
    path, rule = plant(env, bashrc, etc, where)
    try:
        commands = [("sync", "app")]
        if not where.startswith("lock"):
            commands += [("ls",), ("status", "app")]  # they read the version cache and run limactl
        for args in commands:
            r = env.run(*args)
            assert r.returncode == 1, (args, r.stdout, r.stderr)
            assert f"dvm: error: refusing {path}: it {rule}" in r.stderr, (args, r.stderr)
            # The JSON error (the last line; sync prints its events before it) names the same.
            j = json.loads(env.run(*args, "--json").stdout.splitlines()[-1])
            assert j["error"]["code"] == "io" and str(path) in j["error"]["message"], j
    finally:
        if where == "lock-file-hardlink":
            (env.state / "locks" / "app.lock").unlink()
        reset_state(env)


def test_rm_refuses_a_planted_lock_link_and_keeps_the_vm(env, victim):
    bashrc, etc = victim
    reset_state(env)
    path, rule = plant(env, bashrc, etc, "lock-file")
    try:
        r = env.run("rm", "app", "--yes")
        assert r.returncode == 1, r.stderr
        assert f"refusing {path}: it {rule}" in r.stderr
        assert env.sim.status("dvm-app") == "Running"
    finally:
        reset_state(env)


@pytest.mark.parametrize("mode,who", [(0o777, "everyone"), (0o770, "its group"), (0o1777, "everyone")])
def test_a_state_dir_others_can_write_to_is_refused(env, mode, who):
    reset_state(env)
    os.chmod(env.state, mode)
    try:
        for args in (("sync", "app"), ("ls",)):
            r = env.run(*args)
            assert r.returncode == 1, (args, r.stderr)
            assert f"refusing the state directory {env.state}: it is writable by {who}" in r.stderr, r.stderr
            assert "chmod go-w" in r.stderr
    finally:
        os.chmod(env.state, 0o700)


def test_a_new_state_dir_is_created_0700(env):
    state = env.tmp / "new-parent" / "state"
    env.ok("ls", env={"DVM_STATE": state})
    for d in (env.tmp / "new-parent", state, state / "cache", state / "scratch"):
        assert stat.S_IMODE(os.lstat(d).st_mode) == 0o700, d
    assert stat.S_IMODE(os.lstat(state / "cache" / "limactl-version.json").st_mode) == 0o600


def test_sync_warns_about_every_binding_beyond_loopback(env):
    reset_state(env)
    r = env.ok("sync", "app")
    warnings = [l for l in r.stderr.splitlines() if l.startswith("dvm: warning:")]
    assert warnings == [
        'dvm: warning: app: ports[0] (0.0.0.0:38080->8080/tcp) binds to 0.0.0.0, beyond loopback: '
        'other machines that reach this host can connect to it (from host_ip = "0.0.0.0")'], r.stderr
    # JSON mode: a warning event among the JSON lines of progress, before the result.
    r = env.ok("sync", "app", "--json")
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    found = [e for e in lines if e.get("event") == "warning"]
    assert len(found) == 1 and found[0]["vm"] == "app", lines
    assert found[0]["message"].startswith("ports[0] (0.0.0.0:38080->8080/tcp) binds to 0.0.0.0")
    assert lines[-1]["result"]["vm"] == "app"


def core_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = [l for l in f if l.startswith("Max core file size")][0]
    return line.split()[4:6]  # soft, hard


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(entry))
            except OSError:
                pass
    return out


def test_dvm_runs_with_core_dumps_off(env):
    """While `API_TOKEN=... dvm sync` runs (its environment holds the value), its core limit is 0,
    soft and hard, and the limactl it runs (which gets the secrets on stdin) inherits it."""
    reset_state(env)
    vm_file = env.config / "vms" / "app.toml"
    original = vm_file.read_text()
    vm_file.write_text(original + "[env]\nPAUSE = 4\n")  # reaches the recipe as DVM_PAUSE
    try:
        p = subprocess.Popen([DVM, "sync", "app"], env=env.environ(API_TOKEN="tok-123"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(env.tmp))
        dvm_limit = limactl_limits = None
        try:
            for line in p.stderr:
                if "recipe pause started" in line:
                    dvm_limit = core_limit(p.pid)
                    limactl_limits = [core_limit(c) for c in children(p.pid)]
                    break
        finally:
            out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    finally:
        vm_file.write_text(original)
    assert dvm_limit == ["0", "0"], dvm_limit
    assert limactl_limits and all(l == ["0", "0"] for l in limactl_limits), limactl_limits


@pytest.mark.parametrize("where", ["locks-dir", "lock-file", "lock-file-hardlink", "version-cache"])
def test_doctor_reports_a_planted_link_as_a_state_problem(env, victim, where):
    bashrc, etc = victim
    reset_state(env)
    env.ok("sync", "app")  # a lock file and the version cache exist
    doc = json.loads(env.run("doctor", "--json").stdout)
    assert [c["status"] for c in doc["checks"] if c["check"] == "state"] == ["ok"], doc
    reset_state(env)
    path, rule = plant(env, bashrc, etc, where)
    try:
        r = env.run("doctor", "--json")
        assert r.returncode == 1
        state = [c for c in json.loads(r.stdout)["checks"] if c["check"] == "state"]
        assert len(state) == 1 and state[0]["status"] == "problem", state
        assert state[0]["message"].startswith(f"refusing {path}: it {rule}")
    finally:
        if where == "lock-file-hardlink":
            (env.state / "locks" / "app.lock").unlink()
        reset_state(env)
