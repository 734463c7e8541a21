"""Error paths of the CLI end to end against the Lima simulator: bad arguments (exit 2, no
limactl call), unknown and never-created VMs, limactl missing, too old, failing or hanging, and
the environment and descriptors every limactl call gets."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import allowed_env_name, DVM, LIMACTL_ENV_ALLOWLIST, require_sandbox, shared_env, wait_until


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """`app` synced and running; `ghost` configured, never created."""
    with shared_env(tmp_path_factory, "errors", {"app": "baseline = false\n", "ghost": "baseline = false\n"},
                    sync=["app"]) as e:
        yield e


@pytest.fixture
def app(running):
    """The shared VM, running, with no faults and no recorded calls."""
    running.sim.configure(faults=None, version=None)
    if running.sim.status("dvm-app") != "Running":
        running.sim.start("dvm-app")
    running.sim.clear_calls()
    yield running
    running.sim.configure(faults=None, version=None)


# --- bad arguments -----------------------------------------------------------------------------

USAGE_ERRORS = [
    ["frobnicate"],
    ["--nope"],
    ["ls", "--nope"],
    ["ls", "extra"],
    ["status"],
    ["status", "Bad"],
    ["status", "a_b"],
    ["status", "app-"],
    ["status", "9app"],
    ["status", "a" * 31],
    ["status", "app", "extra"],
    ["ssh"],
    ["ssh", "app"],
    ["ssh", "app", "--"],
    ["ssh", "BAD", "--", "true"],
    ["cp"],
    ["cp", "/tmp/a"],
    ["cp", "app:a"],
    ["cp", "/tmp/a", "/tmp/b"],
    ["cp", "app:a", "ghost:b"],
    ["cp", "/tmp/x:y", "app:"],
    ["cp", "-z", "/tmp/a", "app:"],
    ["log"],
    ["log", "Bad"],
    ["log", "app"],  # no service recipe and no unit
    ["log", "app", "no;unit"],
    ["stop"],
    ["stop", "--all", "app"],
    ["stop", "app", "--inactive"],
    ["stop", "--all", "--force"],
    ["stop", "app", "--force"],
    ["stop", "--inactive"],
    ["rm"],
    ["rm", "app"],
    ["rm", "app", "--force"],
    ["rm", "--yes"],
    ["rm", "Bad", "--yes"],
    ["ssh-key"],
    ["ssh-key", "Bad"],
    ["gpg-key"],
    ["gpg-key", "app", "more"],
    ["sync"],
    ["sync", "--all", "app"],
    ["sync", "--all", "-j", "0"],
    ["sync", "Bad"],
    ["init"],
    ["init", "new", "--template", "nope"],
    ["help", "nope"],
    ["version", "extra"],
    ["shell"],
    ["exec", "app"],
    ["delete", "app"],
    ["start"],
    ["start", "app", "--all"],
    ["start", "app", "web"],
    ["restart"],
    ["ssh-config"],
    ["ssh-config", "Bad"],
    ["edit"],
    ["edit", "nope"],
    ["templates", "extra"],
    ["sync", "app", "nope"],
    ["sync", "app", "Bad"],
    ["plan", "app", "--summary", "extra"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_bad_arguments_exit_2_without_calling_limactl(dvm, args):
    dvm.vm("app", "baseline = false\n")
    dvm.vm("ghost", "baseline = false\n")
    r = dvm.run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("dvm: error: "), r.stderr
    assert r.stdout == ""
    assert dvm.sim.calls() == []
    # The same with --json: the error object is the last line on stdout (sync streams its
    # progress events as JSON lines before it).
    r = dvm.run("--json", *args)
    assert r.returncode == 2
    err = json.loads(r.stdout.splitlines()[-1])["error"]
    assert err["code"] in ("usage", "not_found") and err["exit_code"] == 2 and err["message"]
    assert dvm.sim.calls() == []
    assert not (dvm.config / "vms" / "new.toml").exists()


def test_usage_errors_say_what_is_wrong(dvm):
    dvm.vm("app", "baseline = false\n")
    assert "rm" in dvm.run("rm", "app").stderr and "--yes" in dvm.run("rm", "app").stderr
    assert "frobnicate" in dvm.run("frobnicate").stderr
    assert "--all does not take a VM name" in dvm.run("stop", "--all", "app").stderr
    assert "Bad" in dvm.run("status", "Bad").stderr
    assert dvm.sim.calls() == []


def test_help_is_not_an_error(dvm):
    for args in (["--help"], ["help"], ["help", "rm"], ["rm", "--help"], ["ssh", "--help"], ["stop", "-h"]):
        r = dvm.run(*args)
        assert r.returncode == 0, args
        assert "Usage: dvm" in r.stdout, (args, r.stdout)
    assert "--yes" in dvm.run("rm", "--help").stdout
    assert dvm.sim.calls() == []


# --- unknown VMs, no sandbox needed -------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["status", "nope"], ["ssh", "nope", "--", "true"], ["cp", "/etc/passwd", "nope:"], ["cp", "nope:x", "/tmp/"],
    ["log", "nope", "x.service"], ["stop", "nope"], ["rm", "nope", "--yes"], ["ssh-key", "nope"],
    ["gpg-key", "nope"], ["sync", "nope"],
], ids=lambda a: a[0])
def test_a_vm_that_is_not_configured_is_a_usage_error(dvm, args):
    r = dvm.run(*args)
    assert r.returncode == 2, r.stderr
    assert '"nope"' in r.stderr
    assert dvm.sim.calls("stop") == dvm.sim.calls("delete") == dvm.sim.calls("shell") == []


@pytest.mark.parametrize("args", [
    ["ssh", "ghost", "--", "true"], ["cp", "/etc/passwd", "ghost:"], ["cp", "ghost:x", "/tmp/"],
    ["log", "ghost", "x.service"], ["ssh-key", "ghost"], ["gpg-key", "ghost"],
    ["stop", "ghost"], ["rm", "ghost", "--yes"],
], ids=lambda a: a[0])
def test_a_configured_vm_that_was_never_created(dvm, args):
    dvm.vm("ghost", "baseline = false\n")
    r = dvm.run(*args)
    assert r.returncode == 1, r.stderr
    assert "ghost does not exist" in r.stderr
    assert "`dvm sync ghost`" in r.stderr
    # Asking Lima is all it did: never `start` (it would create a VM from Lima's default).
    assert [c["subcommand"] for c in dvm.sim.calls()] == [None, "list"]
    assert dvm.sim.list_json() == []


# --- limactl missing or too old ----------------------------------------------------------------


@pytest.mark.parametrize("args", [["ls"], ["status", "app"], ["ssh", "app", "--", "true"], ["stop", "--all"],
                                  ["rm", "app", "--yes"], ["ssh-key", "app"], ["sync", "app"]],
                         ids=lambda a: a[0])
def test_limactl_missing_exits_3(dvm, tmp_path, args):
    dvm.vm("app", "baseline = false\n")
    r = dvm.run(*args, env={"LIMACTL": "/nonexistent/limactl"})
    assert r.returncode == 3, r.stderr
    assert r.stderr == ("dvm: error: limactl not found at /nonexistent/limactl (from LIMACTL): install Lima 2.0 "
                        "or newer, or fix LIMACTL\n")
    # Not on PATH either.
    r = dvm.run(*args, env={"LIMACTL": None, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 3
    assert "limactl not found on PATH" in r.stderr and "LIMACTL" in r.stderr
    # Not executable.
    (tmp_path / "limactl").write_text("#!/bin/sh\n")
    r = dvm.run(*args, env={"LIMACTL": str(tmp_path / "limactl")})
    assert r.returncode == 3
    assert dvm.sim.calls() == []


def test_limactl_missing_as_json(dvm):
    r = dvm.run("--json", "ls", env={"LIMACTL": "/nonexistent/limactl"})
    assert r.returncode == 3
    assert json.loads(r.stdout)["error"]["code"] == "lima_missing"


def test_limactl_is_found_on_path(dvm, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(dvm.sim.limactl, bin_dir / "limactl")
    r = dvm.run("ls", "--json", env={"LIMACTL": None, "PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert dvm.sim.calls()[0]["argv0"] == str(bin_dir / "limactl")


@pytest.mark.needs_simulator("a limactl of any version (sim.configure(version=...))")
@pytest.mark.parametrize("version", ["1.2.3", "1.99.99", "0.23.2"])
def test_limactl_too_old_exits_3(dvm, version):
    dvm.vm("app", "baseline = false\n")
    dvm.sim.configure(version=version)
    for args in (["ls"], ["status", "app"], ["sync", "app"], ["stop", "app"]):
        r = dvm.run(*args)
        assert r.returncode == 3, r.stderr
        assert f"limactl {version} is too old: dvm needs Lima 2.0.0 or newer" in r.stderr
    r = dvm.run("--json", "ls")
    assert json.loads(r.stdout)["error"]["code"] == "lima_version"
    # Only version checks: nothing else was asked of a limactl dvm cannot trust.
    assert {tuple(c["argv"]) for c in dvm.sim.calls()} == {("--version",)}
    # `dvm version` still reports both.
    r = dvm.ok("version")
    assert "too old" in r.stdout


@pytest.mark.needs_simulator("a limactl of any version (sim.configure(version=...))")
def test_limactl_2_0_0_is_new_enough(dvm):
    dvm.sim.configure(version="2.0.0")
    assert dvm.json("ls") == []


@pytest.mark.parametrize("script, says", [
    ('echo "what version?"', "what version?"),
    ('echo "limactl: cannot execute" >&2; exit 126', "cannot determine the version"),
])
def test_a_limactl_whose_version_cannot_be_read(dvm, tmp_path, script, says):
    # (The simulator's faults do not apply to `--version`, so this limactl is a script.)
    fake = tmp_path / "limactl"
    fake.write_text("#!/bin/sh\n" + script + "\n")
    fake.chmod(0o755)
    r = dvm.run("ls", env={"LIMACTL": str(fake)})
    assert r.returncode == 3
    assert "cannot determine the version of " + str(fake) in r.stderr and says in r.stderr


# --- limactl failing ---------------------------------------------------------------------------


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_limactl_failing_reports_its_message(dvm):
    dvm.sim.add_fault(action="fail", subcommand="list", message="disk on fire")
    r = dvm.run("ls")
    assert r.returncode == 1
    assert r.stderr.startswith("dvm: error: cannot list Lima instances (limactl list exited with status 1): ")
    assert "disk on fire" in r.stderr
    r = dvm.run("--json", "ls")
    err = json.loads(r.stdout)["error"]
    assert (err["code"], err["subcommand"], err["limactl_exit"]) == ("lima_failed", "list", 1)
    assert "disk on fire" in err["message"]


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_limactl_failing_with_its_own_exit_code_and_plain_stderr(dvm):
    dvm.vm("app", "baseline = false\n")
    dvm.sim.add_fault(action="fail", subcommand="list", exit_code=42, stderr="plain text trouble\n")
    r = dvm.run("status", "app")
    assert r.returncode == 1
    assert "exited with status 42" in r.stderr and "plain text trouble" in r.stderr


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_limactl_failing_in_each_lifecycle_step(app, tmp_path):
    fault = app.sim.add_fault
    # start (for ssh into a stopped VM): dvm cleans up with `stop --force` and reports.
    app.sim.stop("dvm-app")
    fault(action="fail", subcommand="start", message="vz: cannot boot", times=1)
    r = app.run("ssh", "app", "--", "true", input="")
    assert r.returncode == 1
    assert "cannot start Lima instance dvm-app" in r.stderr and "vz: cannot boot" in r.stderr
    assert app.sim.calls("stop")[-1]["argv"] == ["stop", "--force", "dvm-app"]
    assert "shell" not in app.subcommands()
    app.sim.start("dvm-app")
    # copy
    app.sim.clear_calls()
    fault(action="fail", subcommand="copy", message="scp: broken pipe", times=1)
    (tmp_path / "f").write_text("x")
    r = app.run("cp", str(tmp_path / "f"), "app:")
    assert r.returncode == 1
    assert "limactl copy failed" in r.stderr and "scp: broken pipe" in r.stderr
    # stop: graceful and forced both fail
    fault(action="fail", subcommand="stop", message="hostagent is stuck", times=2)
    r = app.run("stop", "app")
    assert r.returncode == 1
    assert "cannot stop Lima instance dvm-app" in r.stderr and "hostagent is stuck" in r.stderr
    assert [c["argv"] for c in app.sim.calls("stop")] == [["stop", "dvm-app"], ["stop", "--force", "dvm-app"]]
    # a graceful stop failing alone is recovered with `stop --force`
    app.sim.clear_calls()
    fault(action="fail", subcommand="stop", message="did not receive an event with the \"exiting\" status", times=1)
    app.ok("stop", "app")
    assert app.sim.status("dvm-app") == "Stopped"
    app.sim.start("dvm-app")
    # delete
    fault(action="fail", subcommand="delete", message="instance is protected", times=1)
    r = app.run("rm", "app", "--yes", "--force")
    assert r.returncode == 1
    assert "cannot delete Lima instance dvm-app" in r.stderr and "instance is protected" in r.stderr
    assert app.sim.status("dvm-app") is not None


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_ssh_passes_limactls_own_failure_through(app):
    app.sim.add_fault(action="fail", subcommand="shell", message="ssh: Connection refused", exit_code=255)
    r = app.run("ssh", "app", "--", "true", input="")
    assert r.returncode == 255
    assert "Connection refused" in r.stderr


# --- limactl hanging ---------------------------------------------------------------------------


def wait_gone(sim):
    left = sim.wait_no_processes(timeout=10)
    assert left == [], [open(f"/proc/{p}/cmdline", "rb").read() for p in left if os.path.exists(f"/proc/{p}")]


def limactl_calls_alive(sim, subcommand=None):
    """Simulator processes that are limactl calls (not host agents or guest processes)."""
    alive = []
    for pid in sim.processes():
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"/limactl") for a in argv[:3]) and b"hostagent" not in argv:
            if subcommand is None or subcommand.encode() in argv:
                alive.append(pid)
    return alive


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_a_hanging_limactl_is_killed_after_the_timeout(dvm):
    dvm.sim.add_fault(action="hang", subcommand="list")
    started = time.time()
    r = dvm.run("ls", env={"DVM_TIMEOUT": "2"}, timeout=60)
    took = time.time() - started
    assert r.returncode == 1
    assert r.stderr == "dvm: error: limactl list did not finish within 2 s and was killed\n"
    assert 2 <= took < 10
    wait_gone(dvm.sim)
    (call,) = dvm.sim.calls("list")
    assert call["signal"] == signal.SIGTERM and call["exit_code"] is None
    r = dvm.run("--json", "ls", env={"DVM_TIMEOUT": "1"}, timeout=60)
    assert json.loads(r.stdout)["error"]["code"] == "timeout"
    wait_gone(dvm.sim)


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_a_hanging_check_never_deletes(app):
    app.sim.add_fault(action="hang", subcommand="shell", instance="dvm-app")
    r = subprocess.Popen([DVM, "rm", "app", "--yes"], env=app.environ(DVM_TIMEOUT="2"), cwd=str(app.tmp),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not limactl_calls_alive(app.sim, "shell") and time.time() < deadline:
            time.sleep(0.05)
        seen = limactl_calls_alive(app.sim, "shell")
        _, r.stderr = r.communicate(timeout=60)
    finally:
        if r.poll() is None:
            r.kill()
            r.wait()
    assert seen, ("the hanging limactl shell was not seen", r.stderr, app.subcommands())
    assert r.returncode == 1
    assert "limactl shell did not finish within 2 s" in r.stderr
    assert "delete" not in app.subcommands() and "stop" not in app.subcommands()
    assert app.sim.status("dvm-app") == "Running"
    app.sim.configure(faults=None)
    # The VM's own processes stay; the hanging `limactl shell` is gone.
    deadline = time.time() + 5
    while limactl_calls_alive(app.sim) and time.time() < deadline:
        time.sleep(0.05)
    assert limactl_calls_alive(app.sim) == []


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_a_hanging_graceful_stop_falls_back_to_force(app):
    app.sim.add_fault(action="hang", subcommand="stop", argv_contains=["dvm-app"], times=1)
    r = app.run("stop", "app", env={"DVM_TIMEOUT": "2"}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [c["argv"] for c in app.sim.calls("stop")] == [["stop", "dvm-app"], ["stop", "--force", "dvm-app"]]
    assert app.sim.status("dvm-app") == "Stopped"


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_ctrl_c_stops_limactl_and_leaves_nothing_behind(dvm):
    dvm.sim.add_fault(action="hang", subcommand="list")
    p = subprocess.Popen([DVM, "ls"], env=dvm.environ(), cwd=str(dvm.tmp), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while not limactl_calls_alive(dvm.sim, "list") and time.time() < deadline:
        time.sleep(0.05)
    assert limactl_calls_alive(dvm.sim, "list")
    wait_until(lambda: dvm.sim.faults_fired() >= 1, what="limactl list to reach its hang fault")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130, err
    assert "interrupted" in err
    wait_gone(dvm.sim)


# --- what limactl gets -------------------------------------------------------------------------

POLLUTION = {
    "SECRET_TOKEN": "hunter2", "GITHUB_TOKEN": "ghp_x", "SSH_AUTH_SOCK": "/tmp/agent.sock", "SSH": "/bin/false",
    "_LIMA_OUTPUT_IS_TTY": "1", "COLORTERM": "truecolor", "LIMA_GITHUB_TOKEN": "ghp_y",
    "DVM_TIMEOUT": "120", "PYTHONPATH": "/nonexistent", "BASH_ENV": "/etc/passwd",
    "CLOUDFLARED_TOKEN": "cf", "TAILSCALE_AUTH_KEY": "tskey-x",
    # The TCP-only SSH forwarder would drop UDP ports (upstream/pkg/hostagent/hostagent.go:954-975).
    "LIMA_SSH_PORT_FORWARDER": "true",
}
# Lima's own settings and the proxies pass (upstream/pkg/cidata/cidata.go:59-80 hands the proxies
# on to the guest); LIMA_INSTANCE and LIMA_SHELL are read only by the `lima` wrapper, not limactl.
PASSED = {"USER": "tester", "LOGNAME": "tester", "TERM": "xterm-256color", "LC_ALL": "C.UTF-8",
          "LC_MESSAGES": "C", "LANG": "C.UTF-8", "LIMA_INSTANCE": "default", "LIMA_SHELL": "/bin/false",
          "XDG_CONFIG_HOME": "/tmp/xdg", "https_proxy": "http://proxy.invalid:3128", "NO_PROXY": "localhost"}


def test_every_limactl_call_gets_only_the_allowlisted_environment_and_fds(dvm, tmp_path):
    require_sandbox()
    dvm.vm("app", "baseline = false\n")
    dvm.vm("svc", 'baseline = false\nrecipes = ["tailscale"]\n')
    env = {**POLLUTION, **PASSED}
    # An inherited descriptor dvm itself did not open must not reach limactl either.
    leak = open(tmp_path / "leak", "w")
    os.set_inheritable(leak.fileno(), True)

    def run(*args, check=True, input=""):
        r = subprocess.run([DVM, *args], env=dvm.environ(**env), cwd=str(dvm.tmp), input=input, text=True,
                           capture_output=True, timeout=120, pass_fds=(leak.fileno(),))
        if check:
            assert r.returncode == 0, (args, r.stderr)
        return r

    (tmp_path / "f").write_text("f")
    try:
        run("sync", "app")
        run("ls")
        run("status", "app")
        run("ssh", "app", "--", "true")
        run("cp", str(tmp_path / "f"), "app:")
        run("cp", "app:f", str(tmp_path / "back"))
        run("log", "app", "sshd.service")
        run("ssh-key", "app")
        run("gpg-key", "app")
        run("stop", "app")
        run("ssh", "app", "--", "true")  # starts it
        run("stop", "--all", "--inactive")
        run("ssh", "app", "--", "rm", "f")
        run("rm", "app", "--yes")
        run("version")
        run("stop", "svc", check=False)
    finally:
        leak.close()
    calls = dvm.sim.calls()
    subs = {c["subcommand"] for c in calls}
    assert {"list", "create", "start", "shell", "copy", "stop", "delete"} <= subs
    for c in calls:
        names = set(c["env"])
        assert {k for k in names if not allowed_env_name(k)} == set(), c["argv"]
        for k, v in PASSED.items():
            assert c["env"].get(k) == v, (k, c["argv"])
        assert c["env"]["LIMA_HOME"] == dvm.sim.home
        assert c["env"]["HOME"] == str(dvm.home)
        assert c["env"]["TMPDIR"] == str(dvm.tmpdir)
        assert c["extra_fds"] == [], c["argv"]
        # limactl runs in dvm's scratch directory, where a lima.REJECTED.yaml cannot bother anyone.
        assert c["cwd"].startswith(str(dvm.state)), c["cwd"]
        for value in ("hunter2", "ghp_x", "tskey-x", "/tmp/agent.sock"):
            assert value not in " ".join(c["argv"])
    # Everything that passed was asked for: the fixed names, the LC_* and what PASSED adds.
    assert LIMACTL_ENV_ALLOWLIST | {"LIMA_HOME"} | set(PASSED) >= {k for c in calls for k in c["env"] if not k.startswith("LC_")}
