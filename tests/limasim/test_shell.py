"""`limactl shell` in the guest sandbox: parsing, quoting, stdio, exit status, errors."""

import pytest

from limasim_fixture import log_text, requires_sandbox

USES_SANDBOX = True
pytestmark = requires_sandbox


@pytest.fixture(scope="module")
def vm(shared_sim):
    shared_sim.create_instance("vm", running=True)
    return shared_sim


def sh(sim, *args, stdin=b"", cwd=None):
    return sim.run("shell", *args, stdin=stdin, cwd=cwd)


def test_exit_status_and_separate_streams(vm):
    r = sh(vm, "--workdir", "/", "vm", "sh", "-c", "echo out; echo err >&2; exit 42")
    assert (r.returncode, r.stdout, r.stderr) == (42, b"out\n", b"err\n")


def test_runs_as_guest_user_in_login_shell(vm):
    r = sh(vm, "vm", "sh", "-c", 'id -un; pwd; echo "$HOME|$USER|$LOGNAME|$SHELL"; hostname; '
           'case ":$PATH:" in *:/.limasim/guest/bin:*) echo standins;; esac; env | grep -c LIMA_HOME')
    out = r.stdout.decode().splitlines()
    assert out[:6] == ["dev", "/home/dev", "/home/dev|dev|dev|/bin/bash", "lima-vm", "standins", "0"]


def test_argv_is_reproduced_exactly(vm):
    weird = ["a b", "it's", '"q"', "$HOME", "`id`", "semi;colon", "", "*", "new\nline", "tab\t", "ünï"]
    r = sh(vm, "vm", "printf", "[%s]\\n", *weird)
    assert r.returncode == 0
    assert r.stdout.decode() == "".join("[%s]\n" % w for w in weird)


def test_leading_env_assignments(vm):
    r = sh(vm, "vm", "FOO=a b", "BAR=$x", "sh", "-c", 'echo "$FOO|$BAR"')
    assert r.stdout == b"a b|$x\n"


def test_double_dash_after_instance_is_dropped(vm):
    r = sh(vm, "vm", "--", "echo", "--", "x")
    assert r.stdout == b"-- x\n"


def test_flags_after_instance_belong_to_the_command(vm):
    r = sh(vm, "vm", "echo", "--workdir", "/tmp", "--tty=false")
    assert r.stdout == b"--workdir /tmp --tty=false\n"
    r = sh(vm, "--tty=false", "--workdir", "/tmp", "vm", "pwd")
    assert r.stdout == b"/tmp\n"


def test_workdir_missing_exits_1(vm):
    r = sh(vm, "--workdir", "/nonexistent", "vm", "true")
    assert r.returncode == 1
    assert b"/nonexistent" in r.stderr


def test_stdin_forwarded_byte_exact(vm):
    data = bytes(range(256)) * 4096 + b"\x00tail"
    r = sh(vm, "vm", "sha256sum", stdin=data)
    import hashlib
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert vm.calls()[-1]["stdin_bytes"] == len(data)


def test_stdin_script_to_bash_s(vm):
    script = b"set -euo pipefail\necho from-stdin\nexit 3\n"
    r = sh(vm, "--workdir", "/", "vm", "bash", "-s", stdin=script)
    assert (r.returncode, r.stdout) == (3, b"from-stdin\n")


def test_stdout_binary_unmodified(vm):
    r = sh(vm, "vm", "sh", "-c", r"printf 'a\r\nb\000c'")
    assert r.stdout == b"a\r\nb\x00c"


def test_interactive_shell_reads_stdin(vm):
    r = sh(vm, "vm", stdin=b"echo hi from $0\nexit 5\n")
    assert r.returncode == 5 and r.stdout.startswith(b"hi from")


def test_perhaps_warning(vm):
    r = sh(vm, "vm", "start")
    assert "Perhaps you meant `limactl start`?" in log_text(r.stderr)


def test_unknown_instance(vm):
    r = sh(vm, "nope", "true")
    assert r.returncode == 1
    assert ('instance "nope" does not exist, run `limactl create nope` to create a new instance'
            in log_text(r.stderr))


def test_remote_killed_by_signal_is_255(vm):
    r = sh(vm, "vm", "sh", "-c", "kill -KILL $$")
    assert r.returncode == 255


def test_background_setsid_process_survives_the_call(vm):
    r = sh(vm, "vm", "sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo started")
    assert r.stdout == b"started\n"
    r = vm.guest_run("vm", "pgrep -u dev -x sleep")
    assert r.returncode == 0 and r.stdout.strip()


def test_die_mid_stdin(vm):
    vm.add_fault(action="die_mid_stdin", subcommand="shell", after_bytes=6, times=1)
    r = sh(vm, "vm", "sh", "-c", "trap 'echo HUP > /tmp/hup; exit 9' HUP; cat > /tmp/got; sleep 30",
           stdin=b"secret-payload-that-never-arrives")
    assert r.returncode == 255
    assert b"closed by remote host" in r.stderr
    assert vm.calls()[-1]["stdin_bytes"] == 6
    got = vm.guest_run("vm", "cat /tmp/got; echo; cat /tmp/hup 2>/dev/null").stdout
    assert got.startswith(b"secret")
    assert b"payload" not in got


def test_stopped_instance_by_version(shared_sim):
    sim = shared_sim
    sim.create_instance("off", running=False)
    sim.configure(version="2.1.0")
    r = sim.run("shell", "off", "true")
    assert r.returncode == 1
    assert 'instance "off" is stopped, run `limactl start off` to start the instance' in log_text(r.stderr)
    sim.configure(version="2.0.3")  # lima-vm/lima#4690: exits 0 without running anything
    r = sim.run("shell", "off", "sh", "-c", "exit 7")
    assert (r.returncode, r.stdout) == (0, b"")
    sim.configure(version="2.0.1")  # the prompt reads its answer from stdin
    r = sim.run("shell", "off", "true", stdin=b"")
    assert r.returncode == 1
    sim.configure(version=None)


def test_sandbox_off_fails_like_ssh(tmp_path):
    from limasim_fixture import LimaSim
    sim = LimaSim(tmp_path, sandbox="off")
    try:
        sim.create_instance("a", running=True)
        r = sim.run("shell", "a", "true")
        assert r.returncode == 255 and b"Connection refused" in r.stderr
    finally:
        sim.cleanup()


def test_pty_not_allocated_without_tty(vm):
    r = sh(vm, "vm", "sh", "-c", "test -t 0 || echo notty")
    assert r.stdout == b"notty\n"
