"""The commands users of limactl and Multipass expect (issue 12, part 7): `start`, `restart`,
`ssh-config`, `edit`, `templates`, `sync` of several names, `plan --summary`, and Lima's own
progress lines while a VM boots."""

import json
import os
import pty
import select
import subprocess
import time

import pytest

from conftest import DVM, shared_env


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """`app` and `web` created by one `dvm sync app web`; `ghost` configured, never created.
    Yields the environment and that sync's result."""
    vms = {"app": "baseline = false\n", "web": "baseline = false\n", "ghost": "baseline = false\n"}
    with shared_env(tmp_path_factory, "commands", vms) as env:
        yield env, env.run("sync", "app", "web", "-j", "2")


@pytest.fixture
def two(fleet):
    """Both VMs running, no recorded calls."""
    env, _ = fleet
    for name in ("dvm-app", "dvm-web"):
        if env.sim.status(name) != "Running":
            env.sim.start(name)
    env.sim.clear_calls()
    return env


def test_sync_takes_several_names(fleet):
    env, r = fleet
    assert r.returncode == 0, r.stderr
    assert "app: ok" in r.stdout and "web: ok" in r.stdout and "dvm sync: 2 ok, 0 failed" in r.stdout
    assert {env.sim.status("dvm-app"), env.sim.status("dvm-web"), env.sim.status("dvm-ghost")} == {"Running", None}
    assert env.sim.status("dvm-ghost") is None
    # A name that is not configured is a usage error before anything runs.
    env.sim.clear_calls()
    r = env.run("sync", "app", "nope")
    assert r.returncode == 2 and 'no VM named nope' in r.stderr
    assert env.sim.calls() == []
    # Several names and --all do not go together.
    assert env.run("sync", "--all", "app", "web").returncode == 2


def test_sync_restart_flag(two):
    # Nothing to change: the flag is accepted and nothing restarts.
    two.ok("sync", "app", "--restart")
    assert "stop" not in two.subcommands()
    doc = json.loads(two.ok("sync", "app", "web", "--restart", "--json").stdout.splitlines()[-1])
    assert doc["ok"] == 2 and doc["failed"] == 0


def test_start_stop_restart(two):
    two.ok("stop", "app")
    two.sim.clear_calls()
    r = two.ok("start", "app")
    assert r.stdout == "app: started\n"
    assert two.sim.status("dvm-app") == "Running"
    # No recipes: only the version check, the query and the start.
    assert "shell" not in two.subcommands() and "start" in two.subcommands()
    # Lima's progress lines, as plain lines when stderr is not a terminal.
    assert "app: limactl start: " in r.stderr and "READY" in r.stderr, r.stderr
    # Already running: a warning, exit 0.
    r = two.ok("start", "app")
    assert "already running" in r.stderr
    assert two.json("start", "app") == {"schema": 2, "vm": "app", "started": False}
    # restart: stop, then start.
    two.sim.clear_calls()
    assert two.ok("restart", "app").stdout == "app: restarted\n"
    assert [s for s in two.subcommands() if s in ("stop", "start")] == ["stop", "start"]
    assert two.sim.status("dvm-app") == "Running"
    # A VM that was never created.
    r = two.run("start", "ghost")
    assert r.returncode == 1 and "ghost" in r.stderr and "dvm sync ghost" in r.stderr
    assert two.run("start").returncode == 2
    assert two.run("start", "app", "--all").returncode == 2


def test_the_live_view_shows_limas_progress(two):
    two.ok("stop", "app")
    code, out = on_terminal(two, ["start", "app"], {}, b"")
    assert code == 0, out
    # Lima's latest line, dimmed, after the call's elapsed time; then the call's own line.
    assert "\033[2m" in out and "READY" in out, repr(out)
    assert "\033[32m\u2713 limactl start\033[0m  " in out, repr(out)
    code, out = on_terminal(two, ["restart", "app"], {"NO_COLOR": "1"}, b"")
    assert code == 0 and "READY" in out and "\033[2m" not in out and "\033[32m" not in out, repr(out)


def test_start_all_starts_every_stopped_vm(two):
    two.ok("stop", "--all")
    doc = two.json("start", "--all")
    assert doc["started"] == 2 and doc["failed"] == 0
    assert sorted(x["vm"] for x in doc["results"]) == ["app", "web"]
    assert two.sim.status("dvm-app") == two.sim.status("dvm-web") == "Running"
    # Nothing stopped: nothing to do.
    assert two.ok("start", "--all").stdout == "dvm start --all: 0 started, 0 failed\n"


def test_ssh_config(two):
    text = two.ok("ssh-config", "app").stdout
    assert "Host dvm-app\n" in text and "Host lima-" not in text
    assert "  Hostname 127.0.0.1\n" in text and "  Port " in text and "  IdentityFile " in text
    doc = two.json("ssh-config", "app")
    assert doc["host"] == "dvm-app" and doc["ssh_config"] == text
    two.ok("stop", "web")
    r = two.run("ssh-config", "web")
    assert r.returncode == 1 and "dvm start web" in r.stderr
    r = two.run("ssh-config", "ghost")
    assert r.returncode == 1 and "dvm sync ghost" in r.stderr


# --- edit (no VM needed) -------------------------------------------------------------------------

def editor(tmp_path, *contents):
    """An editor that writes contents[0] at its first call, contents[1] at its second, ..."""
    script = tmp_path / "editor.sh"
    count = tmp_path / "editor.count"
    cases = "".join(f"  {i}) printf '{c}' >\"$1\" ;;\n" for i, c in enumerate(contents, 1))
    script.write_text("#!/bin/sh\nn=$(( $(cat %s 2>/dev/null || echo 0) + 1 ))\necho $n >%s\ncase $n in\n%sesac\n"
                      % (count, count, cases))
    script.chmod(0o755)
    return str(script), count


def calls_of(count):
    return int(count.read_text()) if count.exists() else 0


GOOD = "baseline = false\\ncpus = 1\\n"
BAD = "baseline = false\\ncpus = 0\\n"


def test_edit_a_good_change(dvm, tmp_path):
    path = dvm.vm("app", "baseline = false\n")
    script, count = editor(tmp_path, GOOD)
    r = dvm.ok("edit", "app", env={"EDITOR": script})
    assert path.read_text() == "baseline = false\ncpus = 1\n"
    assert f"{path} is valid" in r.stdout and "dvm sync app" in r.stdout
    assert calls_of(count) == 1
    # VISUAL wins over EDITOR; --json says which file.
    doc = json.loads(dvm.ok("edit", "app", "--json", env={"VISUAL": script, "EDITOR": "/nonexistent"}).stdout)
    assert doc == {"schema": 2, "vm": "app", "path": str(path), "valid": True}
    assert dvm.sim.calls() == []


def test_edit_a_bad_change_without_a_terminal(dvm, tmp_path):
    path = dvm.vm("app", "baseline = false\n")
    script, count = editor(tmp_path, BAD, GOOD)
    r = dvm.run("edit", "app", env={"EDITOR": script}, input="y\n")
    assert r.returncode == 2
    assert "cpus" in r.stderr and f"{path} is kept as the editor left it" in r.stderr
    assert path.read_text() == "baseline = false\ncpus = 0\n"
    assert calls_of(count) == 1  # never re-opened without a terminal
    count.unlink()
    r = dvm.run("edit", "app", "--json", env={"EDITOR": script})
    err = json.loads(r.stdout)["error"]
    assert r.returncode == 2 and f"{path} is kept" in r.stderr
    assert err["code"] == "config" and err["key"] == "cpus"


def test_edit_shows_every_error_and_the_warnings(dvm, tmp_path):
    path = dvm.vm("app", "baseline = false\n")
    script, count = editor(tmp_path, "baseline = false\\ncpus = 0\\nmemroy = \"2GiB\"\\n")
    r = dvm.run("edit", "app", env={"EDITOR": script})
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("dvm: error:")]
    assert len(errors) == 2, r.stderr
    assert f"{path}:2:8: cpus:" in r.stderr and f"{path}:3:1: memroy:" in r.stderr
    # A valid file with a warning: accepted, the warning shown.
    count.unlink()
    script, _ = editor(tmp_path, "baseline = false\\nports = [\"80:8080\"]\\n")
    r = dvm.ok("edit", "app", env={"EDITOR": script})
    assert "dvm: warning:" in r.stderr and "host port 80 is below 1024" in r.stderr


def on_terminal(dvm, args, env, answer):
    """dvm on a pseudo-terminal; types `answer` at each "edit again?" prompt."""
    leader, follower = pty.openpty()
    p = subprocess.Popen([DVM, *args], env=dvm.environ(TERM="xterm", **env), cwd=str(dvm.tmp),
                         stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out, answered = b"", 0
    deadline = time.time() + 30
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if out.count(b"edit again? [Y/n]") > answered:
            answered += 1
            os.write(leader, answer)
    os.close(leader)
    return p.wait(timeout=10), out.decode(errors="replace")


def test_edit_asks_again_on_a_terminal(dvm, tmp_path):
    path = dvm.vm("app", "baseline = false\n")
    script, count = editor(tmp_path, BAD, GOOD)
    code, out = on_terminal(dvm, ["edit", "app"], {"EDITOR": script}, b"y\r")
    assert code == 0, out
    assert "cpus" in out and "edit again? [Y/n]" in out and "is valid" in out
    assert calls_of(count) == 2
    assert path.read_text() == "baseline = false\ncpus = 1\n"
    # "n": the file stays as it was left, exit 2.
    script, count = editor(tmp_path, BAD, GOOD)
    count.unlink()
    code, out = on_terminal(dvm, ["edit", "app"], {"EDITOR": script}, b"n\r")
    assert code == 2 and "is kept as the editor left it" in out
    assert calls_of(count) == 1 and "cpus = 0" in path.read_text()


def test_edit_errors(dvm, tmp_path):
    r = dvm.run("edit", "nope", env={"EDITOR": "true"})
    assert r.returncode == 2 and "no VM named nope" in r.stderr and "dvm init nope" in r.stderr
    assert json.loads(dvm.run("edit", "nope", "--json").stdout)["error"]["code"] == "not_found"
    dvm.vm("app", "baseline = false\n")
    r = dvm.run("edit", "app", env={"EDITOR": "/nonexistent/editor --wait", "VISUAL": ""})
    assert r.returncode == 2
    assert "cannot start the editor /nonexistent/editor (from $EDITOR)" in r.stderr
    r = dvm.run("edit", "app", env={"EDITOR": "false"})
    assert r.returncode == 1 and "exited with status 1" in r.stderr


def test_init_edit_checks_the_file_too(dvm, tmp_path):
    script, _ = editor(tmp_path, BAD)
    r = dvm.run("init", "app", "--edit", env={"EDITOR": script})
    assert r.returncode == 2 and "is kept as the editor left it" in r.stderr


# --- templates and plan --summary ---------------------------------------------------------------

def test_templates(dvm):
    lines = dvm.ok("templates").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["app", "cloudflared", "llama", "tailscale"]
    assert all(len(line.split()) > 1 for line in lines[1:]), lines
    doc = dvm.json("templates")
    assert [t["name"] for t in doc["templates"]] == names
    assert all(isinstance(t["description"], str) and t["description"] for t in doc["templates"])


def test_plan_summary(dvm):
    dvm.vm("app", 'cpus = 3\nmemory = "3GiB"\nports = ["8080:80"]\nrecipes = ["node"]\n')
    full = dvm.ok("plan", "app").stdout
    summary = dvm.ok("plan", "app", "--summary").stdout
    assert len(summary) * 5 < len(full)
    assert "3 CPUs, 3GiB memory" in summary and "-> guest 80/tcp" in summary
    assert "recipes:" in summary and "baseline  runs (always; never ran here)" in summary
    assert "node  runs (never ran here)" in summary
    assert "limactl create" in summary and "limactl start" in summary
    assert "guest program" in summary and "dvm plan app" in summary  # how to see the rest
    assert "set -" not in summary  # no guest program text
    assert {c["subcommand"] for c in dvm.sim.calls()} == {"list"}  # read only: does the VM exist?
