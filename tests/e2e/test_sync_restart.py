"""`dvm sync` does not restart a VM in use without consent (issue 12, item 3): a change that needs
stop/edit/start of a running VM (cpus, memory, disk, port rules) first runs the activity probe;
a VM with a shell, tmux/zellij or an active service is refused (exit 1, `busy`, nothing changed)
unless `--restart` is given. A probe that fails counts as "in use"; a stopped VM is not probed.

One synced VM for the module. A restart takes seconds, so the tests run in file order and each
starts where the one before left off (the `cpus` each one checks first says where that is)."""

import json

import pytest

from conftest import shared_env

BASE = 'baseline = false\nmemory = "1GiB"\ndisk = "10GiB"\n'


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with shared_env(tmp_path_factory, "restart", {"app": BASE + "cpus = 1\n"}, sync=["app"]) as e:
        yield e


@pytest.fixture
def app(env):
    """`app` with no faults and a fresh call log."""
    env.sim.configure(faults=[])
    env.sim.clear_calls()
    return env


def cpus(env):
    return env.sim.lima_yaml("dvm-app")["cpus"]


def test_a_change_to_a_vm_in_use_is_refused_and_changes_nothing(app):
    assert cpus(app) == 1
    app.guest("app", "setsid bash -c 'exec -a tmux sleep 300' </dev/null >/dev/null 2>&1 &")
    app.sim.clear_calls()
    app.vm("app", BASE + "cpus = 2\n")
    r = app.run("sync", "app")
    assert r.returncode == 1, r.stderr
    assert ("app is in use (tmux): applying cpus needs a restart; run `dvm sync app --restart` "
            "to restart it anyway") in r.stderr
    # Only the query and the probe (one `bash -s`, nothing in the argv); no stop, no edit.
    assert app.subcommands() == ["list", "shell"]
    assert app.sim.calls("shell")[0]["argv"][4:] == ["/bin/bash", "-p", "-s"]
    assert app.sim.status("dvm-app") == "Running"
    assert cpus(app) == 1


@pytest.mark.needs_simulator("fault injection (the probe's limactl shell fails)")
def test_a_probe_that_fails_counts_as_in_use(app):
    # The first shell call is the probe: ssh cannot connect.
    app.sim.add_fault(action="fail", subcommand="shell", instance="dvm-app", exit_code=255, times=1,
                      stderr="ssh: connect to host 127.0.0.1 port 60022: Connection refused\n")
    r = app.run("--json", "sync", "app")
    assert r.returncode == 1, r.stderr
    err = json.loads(r.stdout.splitlines()[-1])["error"]
    assert err["code"] == "busy"
    assert "app may be in use (activity check failed (exit 255)" in err["message"]
    assert "Connection refused" in err["message"] and "dvm sync app --restart" in err["message"]
    assert app.subcommands() == ["list", "shell"]
    assert cpus(app) == 1


def test_restart_applies_the_change_to_a_vm_in_use(app):
    assert app.guest("app", "pgrep -fc '^tmux' || true").strip() == "1"
    app.sim.clear_calls()
    app.ok("sync", "app", "--restart")
    # With consent there is nothing to ask the guest before the restart.
    assert app.subcommands() == ["list", "stop", "edit", "start", "shell"]
    assert cpus(app) == 2
    assert app.sim.status("dvm-app") == "Running"


def test_a_vm_nobody_uses_is_restarted_without_asking(app):
    assert cpus(app) == 2
    app.guest("app", "pkill -f '^tmux' || true")
    app.sim.clear_calls()
    app.vm("app", BASE + "cpus = 1\n")
    r = app.ok("sync", "app")
    assert app.subcommands() == ["list", "shell", "stop", "edit", "start", "shell"]
    assert cpus(app) == 1
    assert "updating cpus" in r.stderr


def test_a_stopped_vm_is_not_probed(app):
    app.ok("stop", "app")
    app.vm("app", BASE + "cpus = 2\n")
    app.sim.clear_calls()
    app.ok("sync", "app")
    assert app.subcommands() == ["list", "edit", "start", "shell"]
    assert cpus(app) == 2
