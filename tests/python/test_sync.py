"""dvm.Client against the Lima simulator with its guest sandbox: sync with secrets and events,
list/status objects, exec, copy, logs, keys, the unsaved-work check, stop and remove.

Most tests share one synced VM (`app`); the ones that stop or delete VMs make their own."""

import hashlib
import json
import os
import pickle
import subprocess

import pytest

import dvm
from conftest import GUEST_USER, DvmEnv, LimaSim, require_sandbox

# Every recipe writes what it saw of the secrets into the guest home.
RECIPES = {
    "inspect": 'dvm_secret MY_TOKEN | sha256sum | cut -d" " -f1 >"$HOME/token.sha"\n'
               'stat -c "%a %U" "$DVM_SECRET_FILE_MY_TOKEN" >"$HOME/token.stat"\n',
    "dump": 'dvm_secret RAW >"$HOME/raw.bin"\ndvm_secret BUF >"$HOME/buf.bin"\necho dumped\n',
    "third": 'echo "third says hi"\necho "to stderr" >&2\n',
}
APP = ('baseline = false\ncpus = 1\nmemory = "1GiB"\nports = ["127.0.0.1:18080:80"]\n'
       'recipes = ["inspect", "dump", "third"]\n')
TOKEN = "hunter2 ✓ with 'quotes', $(touch /tmp/pwned) and\nnewlines\n"
RAW = bytes(range(256)) * 2  # every byte, NUL included: no environment could carry this
BUF = bytearray(b"from a bytearray")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """`app` synced once through the API (secrets dict, event callback); `ghost` configured only."""
    require_sandbox()
    tmp = tmp_path_factory.mktemp("pysync")
    sim = LimaSim(tmp)
    env = DvmEnv(tmp, sim)
    try:
        for name, body in RECIPES.items():
            env.recipe(name, body)
        env.vm("app", APP)
        env.vm("ghost", "baseline = false\ncpus = 3\n")
        env.events = []
        env.result = env.client().sync("app", secrets={"MY_TOKEN": TOKEN, "RAW": RAW, "BUF": BUF},
                                       on_event=env.events.append)
        yield env
    finally:
        sim.cleanup()


def test_sync_result(app):
    r = app.result
    assert isinstance(r, dvm.SyncResult)
    assert r.vm == "app" and r.created and r.started and r.reconciled == ()
    assert [t.name for t in r.recipes] == ["inspect", "dump", "third"]
    assert all(isinstance(t, dvm.RecipeTiming) and t.ok and t.duration >= 0 for t in r.recipes)
    assert r.limactl_calls >= 4 and r.duration > 0
    # The sync's log: the whole guest output, no secret in it.
    assert r.log is not None and r.log.is_file() and r.log.name.startswith("app.")
    text = r.log.read_bytes()
    assert b"third says hi" in text and b"to stderr" in text and b"== the sync succeeded" in text
    assert b"hunter2" not in text and RAW not in text


def test_event_callback_sees_every_recipe(app):
    events = app.events
    assert all(isinstance(e, dvm.Event) and e.vm == "app" for e in events)
    started = [e.name for e in events if e.kind == dvm.EventKind.RECIPE_STARTED]
    finished = [e.name for e in events if e.kind == "recipe_finished"]
    assert started == finished == ["inspect", "dump", "third"]
    kinds = [e.kind for e in events]
    assert kinds.index(dvm.EventKind.VM_CREATING) < kinds.index(dvm.EventKind.VM_STARTING) \
        < kinds.index(dvm.EventKind.GUEST_STARTED) < kinds.index(dvm.EventKind.RECIPE_STARTED)
    assert kinds[-1] == dvm.EventKind.SYNC_FINISHED and events[-1].exit_code == 0
    output = [(e.name, e.message) for e in events if e.kind == dvm.EventKind.OUTPUT]
    assert ("third", "third says hi") in output and ("dump", "dumped") in output
    calls = [e.argv for e in events if e.kind == dvm.EventKind.LIMACTL_STARTED]
    assert [a[1] for a in calls] == ["--version", "list", "create", "start", "shell"]


def test_secrets_arrive_in_the_guest_byte_exact(app):
    home = f"/home/{GUEST_USER}"
    assert app.guest("app", f"cat {home}/token.sha").strip() == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert app.guest("app", f"cat {home}/token.stat").strip() == f"600 {GUEST_USER}"
    assert app.sim.guest_run("dvm-app", f"cat {home}/raw.bin").stdout == RAW
    assert app.sim.guest_run("dvm-app", f"cat {home}/buf.bin").stdout == bytes(BUF)
    assert app.guest("app", "ls -A /run/dvm-secrets 2>/dev/null || true", user="root").strip() == ""
    assert app.guest("app", "test -e /tmp/pwned && echo yes || echo no", user="root").strip() == "no"


def test_secrets_are_nowhere_on_the_host(app):
    needle = b"hunter2"
    for c in app.sim.calls():
        assert all(needle not in a.encode() for a in c["argv"])
        assert all(needle not in v.encode() for v in c["env"].values())
    skip = {os.path.join(app.sim.home, d, "guest") for d in os.listdir(app.sim.home)}
    for root in (app.config, app.state, app.home, app.tmpdir, app.sim.home):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
            for f in filenames:
                path = os.path.join(dirpath, f)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as fh:
                        assert needle not in fh.read(), path


def test_list_and_status_objects(app):
    client = app.client()
    vms = client.list()
    assert [v.name for v in vms] == ["app", "ghost"]
    running, ghost = vms
    assert isinstance(running, dvm.VmStatus) and dvm.Instance is dvm.VmStatus
    assert running.instance == "dvm-app" and running.state == "Running" and running.running
    assert running.configured and running.exists and running.cpus == 1 and running.memory_bytes == 1 << 30
    assert running.ssh_address.startswith("127.0.0.1:") and running.dir.endswith("/dvm-app")
    assert ghost.state == "absent" and not ghost.exists and not ghost.running and ghost.cpus == 3

    s = client.status("app")
    assert s.name == "app" and s.running
    assert s.code_dir == "~/code/app" and s.recipes == ("inspect", "dump", "third")
    assert s.ports == (dvm.PortForward("127.0.0.1", 18080, 80, "tcp"),)
    assert str(s.ports[0]) == "127.0.0.1:18080->80/tcp"
    assert client.status(s) == s  # a VmStatus is accepted as a name


def test_exec_returns_non_zero_exit_codes_as_data(app):
    client = app.client()
    r = client.exec("app", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert isinstance(r, dvm.ExecResult)
    assert (r.exit_code, r.stdout, r.stderr, r.ok) == (3, "out\n", "err\n", False)
    assert r.argv == ("sh", "-c", "echo out; echo err >&2; exit 3")
    with pytest.raises(subprocess.CalledProcessError) as info:
        r.check()
    assert info.value.returncode == 3
    ok = client.exec("app", ["pwd"])
    assert ok.ok and ok.check() is ok and ok.stdout.strip() == f"/home/{GUEST_USER}/code/app"


def test_exec_input_and_bytes(app):
    client = app.client()
    r = client.exec("app", ["sh", "-c", "tr a-z A-Z"], input="shout ✓\n")
    assert r.stdout == "SHOUT ✓\n"
    r = client.exec("app", ["head", "-c", "4"], input=bytearray(b"\xff\x00\x01\x02rest"), text=False)
    assert r.stdout == b"\xff\x00\x01\x02" and r.stderr == b""


def test_shell_and_interactive_exec_use_this_process_stdio(app):
    import json
    import sys
    settings = {"config_dir": str(app.config), "state_dir": str(app.state), "limactl": app.sim.limactl,
                "environment": app.environment()}
    script = ("import dvm, json, sys\n"
              "c = dvm.Client(**json.loads(sys.argv[1]))\n"
              "code = c.shell('app')\n"
              "r = c.exec('app', ['sh', '-c', 'echo interactive; exit 4'], interactive=True)\n"
              "print('shell', code, 'exec', r.exit_code, repr(r.stdout), flush=True)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(dvm.__file__)))
    r = subprocess.run([sys.executable, "-c", script, json.dumps(settings)], input="echo in-guest $PWD; exit 7\n",
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"in-guest /home/{GUEST_USER}/code/app", "interactive", "shell 7 exec 4 ''"]


def test_copy_into_the_vm(app, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("copied in\n")
    client = app.client()
    client.exec("app", ["mkdir", "-p", "notes"]).check()
    r = client.copy([str(note)], "app:notes/")
    assert r == dvm.CopyResult("app", True, (str(note),), "app:notes/", 1, 10, r.duration)
    assert client.copy(note, "app:single.txt").files == 1  # one PathLike source
    assert client.exec("app", ["cat", "single.txt"]).stdout == "copied in\n"
    assert client.exec("app", ["cat", "notes/note.txt"]).stdout == "copied in\n"
    # A tree out of the VM: counted in the guest, before the copy (2 files, 3 + 10 bytes).
    client.exec("app", ["sh", "-c", "mkdir -p tree/sub && printf abc >tree/a && cp notes/note.txt tree/sub/"]).check()
    out = client.copy("app:tree", tmp_path / "tree-copy", recursive=True)
    assert (out.vm, out.into_vm, out.files, out.bytes) == ("app", False, 2, 13)
    assert (tmp_path / "tree-copy" / "sub" / "note.txt").read_text() == "copied in\n"
    with pytest.raises(dvm.UsageError):
        client.copy(note, str(tmp_path / "elsewhere"))  # neither side is a VM


def test_logs_are_captured(app):
    app.guest("app", "mkdir -p /var/log/limasim/journal && echo 'demo started' >> /var/log/limasim/journal/demo.service.log",
              user="root")
    r = app.client().logs("app", unit="demo.service")
    assert isinstance(r, dvm.LogsResult) and r.ok and "demo started" in r.output
    assert r.unit == "demo.service" and r.duration > 0
    with pytest.raises(dvm.UsageError):
        app.client().logs("app")  # no service recipe: the unit must be named


def test_ssh_and_gpg_keys(app):
    client = app.client()
    first = client.ssh_key("app")
    assert first.created and first.access_public_key.startswith("ssh-ed25519 ")
    again = client.ssh_key("app")
    assert not again.created and again.access_public_key == first.access_public_key
    gpg = client.gpg_key("app")
    assert gpg.fingerprint and "BEGIN PGP PUBLIC KEY BLOCK" in gpg.armored_public_key


def test_plan_of_a_synced_vm_redacts_secrets(app):
    plan = app.client().plan("app")
    assert "hunter2" not in plan.guest_program and plan.instance == "dvm-app"
    assert plan.calls[-1].argv[:2] == ("limactl", "shell")


def test_unsaved_work_stop_and_remove(dvmenv, sandbox):
    dvmenv.vm("work", "baseline = false\ncpus = 1\n")
    client = dvmenv.client()
    client.sync("work")
    client.exec("work", ["sh", "-c", "echo draft > draft.txt"]).check()
    report = client.check_unsaved_work("work")
    assert isinstance(report, dvm.DirtyReport) and not report.clean
    assert report.loose_file_count == 1 and report.loose_files == ("draft.txt",)
    assert report.problems == () and not report.incomplete
    with pytest.raises(dvm.UnsavedWorkError) as info:
        client.remove("work")
    assert info.value.code == "refused" and info.value.exit_code == 1 and "draft.txt" in str(info.value)
    assert info.value.report == report  # the same findings as the check on its own
    assert pickle.loads(pickle.dumps(info.value)).report == report

    events = []
    assert client.stop("work", on_event=events.append) == dvm.StopResult("work", True)
    assert client.status("work").state == "Stopped"
    assert dvm.EventKind.VM_STOPPING in [e.kind for e in events]
    stopped = client.stop("work", on_event=events.append)  # already stopped: a warning, not an error
    assert events[-1].kind == dvm.EventKind.WARNING and stopped == dvm.StopResult("work", False)

    client.sync("work")
    result = client.stop_all()
    assert isinstance(result, dvm.StopAllResult)
    assert (result.stopped, result.skipped, result.failed) == (1, 0, 0)
    assert result.outcomes == (dvm.StopOutcome("work", "stopped", ""),)

    removed = client.remove("work", force=True)
    assert removed.removed and not removed.checked
    assert client.status("work").state == "absent"
    assert (dvmenv.config / "vms" / "work.toml").is_file()  # the VM file is kept


def test_guest_failure_is_an_error_with_the_recipe(dvmenv, sandbox):
    dvmenv.recipe("broken", 'echo "about to fail"\nfalse\n')
    dvmenv.vm("app", 'baseline = false\nrecipes = ["broken"]\n')
    events = []
    with pytest.raises(dvm.Error) as info:
        dvmenv.client().sync("app", on_event=events.append)
    assert info.value.code == "guest_failed" and "recipe broken failed" in str(info.value)
    # The message ends with the log's path; the log has the output the message leaves out.
    log = str(info.value).rsplit("the whole output: ", 1)[1]
    assert "about to fail" in open(log, encoding="utf-8").read()
    failed = [e for e in events if e.kind == dvm.EventKind.RECIPE_FAILED]
    assert len(failed) == 1 and failed[0].name == "broken" and "about to fail" in failed[0].message
    assert events[-1].kind == dvm.EventKind.SYNC_FINISHED and events[-1].exit_code == 1


def test_incremental_sync_through_the_api(dvmenv, sandbox):
    for name in ("one", "two"):
        dvmenv.recipe(name, f'echo "{name}" >>/tmp/dvm-py-runs\n')
    dvmenv.recipe("two", 'echo two >>/tmp/dvm-py-runs\ndvm_every_sync() {\n  true\n}\n')
    dvmenv.vm("app", 'baseline = false\nrecipes = ["one", "two"]\n')
    client = dvmenv.client()
    first = client.sync("app")
    assert [(t.name, t.skipped) for t in first.recipes] == [("one", False), ("two", False)]
    events = []
    second = client.sync("app", on_event=events.append)
    assert [(t.name, t.skipped, t.ok) for t in second.recipes] == [("one", True, True), ("two", True, True)]
    assert [e.name for e in events if e.kind == dvm.EventKind.RECIPE_SKIPPED] == ["one", "two"]
    assert second.limactl_calls == 2
    assert [t.skipped for t in client.sync("app", recipes=["two"]).recipes] == [True, False]
    assert [t.skipped for t in client.sync("app", full=True).recipes] == [False, False]
    with pytest.raises(dvm.UsageError, match='does not run recipe "three"'):
        client.sync("app", recipes=["three"])
    with pytest.raises(TypeError):
        client.sync("app", recipes="one")
    states = {r.name: r for r in client.status("app").recipe_states}
    assert states["one"].freshness == dvm.RecipeFreshness.CURRENT and not states["one"].will_run
    assert states["one"].last_run is not None and states["one"].last_run.tzinfo is not None
    plan = client.plan("app")
    assert [(r.name, r.will_run, r.every_sync) for r in plan.recipes] == [("one", False, False), ("two", False, True)]
    assert {r.name: r.has_every_sync for r in client.recipes()}["two"]
    assert dvmenv.sim.guest_run("dvm-app", "cat /tmp/dvm-py-runs").stdout.split() == [
        b"one", b"two", b"two", b"one", b"two"]


# docs/json.md, "Event lines": which keys a JSON line has, by kind.
ENDING_KINDS = {"limactl_finished", "recipe_failed", "sync_finished"}
PYTHON_EVENT_KEYS = ["kind", "vm", "name", "argv", "exit_code", "duration", "message"]


def test_cli_event_lines_and_python_events_share_one_description(app):
    """`dvm sync --json` lines and the binding's event dicts come from one description of
    dvm::event (libdvm/src/fields/dvm_fields.hpp): same kinds, names and values in the same
    order; the JSON leaves out what the kind does not set, Python always has every key.
    Last in this file: it adds a VM to the shared configuration."""
    app.vm("events", "baseline = false\ncpus = 1\n")
    dvm_binary = os.environ.get("DVM_BINARY") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                                "build", "test", "dvm")
    for _ in range(2):  # the first creates `events`; the second is a steady-state sync, as Python's
        r = subprocess.run([dvm_binary, "sync", "events", "--json"], env=app.environment(), capture_output=True,
                           text=True, timeout=120, cwd=str(app.tmp))
        assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()[:-1]]
    raw = []
    app.client()._native.sync("events", None, False, True, [], raw.append)  # the dicts before dvm.Event
    assert [line["event"] for line in lines] == [d["kind"] for d in raw]
    assert "limactl_finished" in {d["kind"] for d in raw}
    for line, d in zip(lines, raw):
        assert list(d) == PYTHON_EVENT_KEYS
        assert line.pop("schema") == 2 and line.pop("event") == d["kind"] and line.pop("vm") == d["vm"] == "events"
        assert ("exit_code" in line) == (d["kind"] in ENDING_KINDS)
        assert ("duration_ms" in line) == (d["duration"] > 0 or d["kind"] == "recipe_finished")
        for k in ("name", "argv", "message"):
            assert (k in line) == bool(d[k])
        assert set(line) <= {"name", "argv", "exit_code", "duration_ms", "message"}
        assert {k: v for k, v in line.items() if k != "duration_ms"} == {k: d[k] for k in line if k != "duration_ms"}
