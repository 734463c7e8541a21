"""Client.start / restart / ssh_config, sync(restart=...) and dvm.templates(): the calls issue 12
added, through the binding, with their results, events and errors."""

import pytest

import dvm


def test_templates_have_names_and_descriptions():
    templates = dvm.templates()
    assert [t.name for t in templates] == sorted(dvm.init_templates())
    assert {"app", "llama", "cloudflared", "tailscale"} <= {t.name for t in templates}
    assert all(isinstance(t, dvm.InitTemplate) and t.description for t in templates)
    app = next(t for t in templates if t.name == "app")
    assert "port 3000" in app.description


def test_start_restart_and_ssh_config(nosandbox_env):
    env = nosandbox_env
    env.vm("app", "baseline = false\n")
    env.sim.create_instance("dvm-app", running=False)
    events = []
    client = env.client(on_event=events.append)

    with pytest.raises(dvm.Error) as stopped:
        client.ssh_config("app")
    assert stopped.value.code == "not_running" and "dvm start app" in str(stopped.value)

    r = client.start("app")
    assert r == dvm.StartResult("app", True)
    assert not [c for c in env.sim.calls("shell")]  # no recipes, no guest program
    assert client.status("app").running  # (status reads the recipes' records: one shell call)
    assert dvm.EventKind.VM_STARTING in [e.kind for e in events]

    events.clear()
    assert client.start("app") == dvm.StartResult("app", False)  # already running: a warning
    assert [e.kind for e in events if e.kind == dvm.EventKind.WARNING] == [dvm.EventKind.WARNING]

    config = client.ssh_config(client.status("app"))
    assert isinstance(config, str)
    assert "\nHost dvm-app\n" in "\n" + config
    port = client.status("app").ssh_address.rsplit(":", 1)[1]
    assert f"Port {port}" in config

    before = len(env.sim.calls("stop"))
    assert client.restart("app").started
    assert len(env.sim.calls("stop")) == before + 1 and client.status("app").running

    with pytest.raises(dvm.NotFoundError) as missing:
        client.start("other")
    assert missing.value.code == "not_found"
    env.vm("other", "baseline = false\n")
    with pytest.raises(dvm.NotFoundError) as absent:
        client.restart("other")
    assert absent.value.code == "not_created"


def test_sync_restart_applies_a_change_to_a_vm_in_use(dvmenv, sandbox):
    dvmenv.vm("app", "baseline = false\ncpus = 1\n")
    client = dvmenv.client()
    events = []
    client.sync("app", on_event=events.append)
    # Lima's own progress lines, as the first boot goes (issue 12, part 5).
    progress = [e for e in events if e.kind == dvm.EventKind.LIMA_PROGRESS]
    assert progress and {e.name for e in progress} <= {"create", "start"}
    assert any("READY" in e.message for e in progress) and all(e.vm == "app" for e in progress)
    # A tmux server in the guest: the VM is in use.
    dvmenv.guest("app", "setsid bash -c 'exec -a tmux sleep 300' </dev/null >/dev/null 2>&1 &")
    dvmenv.vm("app", "baseline = false\ncpus = 2\n")

    with pytest.raises(dvm.Error) as busy:
        client.sync("app")
    assert busy.value.code == "busy" and "tmux" in str(busy.value)
    assert client.status("app").cpus == 1  # nothing changed

    outcome = client.sync_all(names=["app"]).outcomes[0]
    assert not outcome.ok and outcome.error_code == "busy"

    result = client.sync_all(names=["app"], restart=True)
    assert result.ok == 1 and "cpus" in result.outcomes[0].result.reconciled
    assert client.status("app").cpus == 2

    dvmenv.guest("app", "setsid bash -c 'exec -a tmux sleep 300' </dev/null >/dev/null 2>&1 &")
    dvmenv.vm("app", "baseline = false\ncpus = 3\n")
    assert "cpus" in client.sync("app", restart=True).reconciled
    assert client.status("app").cpus == 3
