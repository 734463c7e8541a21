"""The CLI's manners, no VM needed: the names users of limactl, Multipass and colima type work as
aliases, an unknown command names the closest ones, every sub-command's --help has an example,
a bad DVM_TIMEOUT is a usage error, and colour appears on terminals only (NO_COLOR honoured)."""

import json
import os
import pty
import select
import subprocess

import pytest

from conftest import DVM


# --- aliases -----------------------------------------------------------------------------------

ALIASES = {"shell": "sh", "exec": "ssh", "list": "ls", "delete": "rm", "remove": "rm", "logs": "log",
           "info": "status"}


@pytest.mark.parametrize("alias, command", sorted(ALIASES.items()))
def test_aliases_are_the_same_command(dvm, alias, command):
    assert dvm.ok(alias, "--help").stdout == dvm.ok(command, "--help").stdout
    assert dvm.ok("help", alias).stdout == dvm.ok("help", command).stdout


def test_aliases_run_their_command(dvm):
    dvm.vm("app", "baseline = false\n")
    assert dvm.json("list") == dvm.json("ls")
    assert [vm["name"] for vm in dvm.json("list")] == ["app"]
    # info = status: the same document for a VM that does not exist yet.
    assert dvm.json("info", "app") == dvm.json("status", "app")
    # exec and logs pass the words after the name through, as ssh and log do ("-la" is not
    # one of dvm's options); without an instance the error is Lima's "not created".
    for args in (["exec", "app", "ls", "-la"], ["logs", "app", "ssh.service", "-f"]):
        r = dvm.run(*args)
        assert r.returncode == 1 and "does not exist" in r.stderr, (args, r.stderr)
    r = dvm.run("delete", "app")
    assert r.returncode == 2 and "--yes" in r.stderr


# --- unknown commands --------------------------------------------------------------------------

@pytest.mark.parametrize("typed, says", [
    ("stauts", 'unknown command "stauts"; did you mean "status"?'),
    ("snyc", 'unknown command "snyc"; did you mean "sync"?'),
    ("remvoe", 'unknown command "remvoe"; did you mean "remove"?'),
    ("ssh-confg", 'unknown command "ssh-confg"; did you mean "ssh-config"?'),
    ("sta", 'did you mean "start" or "status"?'),
    ("frobnicate", 'unknown command "frobnicate" (see `dvm --help`)'),
])
def test_an_unknown_command_suggests_the_closest(dvm, typed, says):
    r = dvm.run(typed, "app")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("dvm: error: ") and says in r.stderr, r.stderr
    assert dvm.sim.calls() == []
    err = json.loads(dvm.run("--json", typed).stdout)["error"]
    assert err["code"] == "usage" and says in err["message"]
    # `dvm help X` says the same.
    assert says in dvm.run("help", typed).stderr


# --- help ----------------------------------------------------------------------------------------

def commands(dvm):
    """The command names of the top-level help."""
    out = dvm.ok("--help").stdout.split("Subcommands:\n")[1].split("\n\n")[0]
    return [line.split()[0].rstrip(",") for line in out.splitlines() if line[:3].strip() and not line.startswith(" " * 6)]


def test_every_command_has_an_example(dvm):
    names = commands(dvm)
    assert {"start", "restart", "ssh-config", "edit", "templates", "sync", "cp"} <= set(names), names
    for name in names:
        out = dvm.ok(name, "--help").stdout
        assert f"Usage: dvm {name}" in out, out
        assert "Example" in out and "  dvm " in out.split("Example")[1], (name, out)


def test_help_shows_the_options_that_matter(dvm):
    sync = dvm.ok("sync", "--help").stdout
    assert "--restart" in sync and "--all" in sync and "Excludes: name" in sync
    start = dvm.ok("start", "--help").stdout
    assert "--all" in start and "dvm start app" in start
    ssh_config = dvm.ok("ssh-config", "--help").stdout
    assert "Include" in ssh_config and "ssh dvm-app" in ssh_config
    assert "--summary" in dvm.ok("plan", "--help").stdout


# --- the environment -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["abc", "-1", "0", "1x", "inf", " 5", "1e3"])
def test_a_bad_dvm_timeout_is_a_usage_error(dvm, value):
    r = dvm.run("ls", env={"DVM_TIMEOUT": value})
    assert r.returncode == 2, r.stderr
    assert f'DVM_TIMEOUT="{value}" is not valid: it must be a positive number of seconds' in r.stderr
    assert dvm.sim.calls() == []
    err = json.loads(dvm.run("ls", "--json", env={"DVM_TIMEOUT": value}).stdout)["error"]
    assert err["code"] == "usage" and "DVM_TIMEOUT" in err["message"]


@pytest.mark.parametrize("value", ["", "30", "2.5"])
def test_a_good_or_empty_dvm_timeout_is_accepted(dvm, value):
    assert dvm.json("ls", env={"DVM_TIMEOUT": value}) == []


def test_help_and_completion_work_whatever_dvm_timeout_says(dvm):
    assert dvm.ok("--help", env={"DVM_TIMEOUT": "abc"}).stdout
    assert dvm.ok("completion", "bash", env={"DVM_TIMEOUT": "abc"}).stdout


# --- colour --------------------------------------------------------------------------------------

def run_on_terminal(dvm, *args, env=None):
    """dvm with stdin, stdout and stderr on a pseudo-terminal; returns (exit code, what it wrote)."""
    leader, follower = pty.openpty()
    p = subprocess.Popen([DVM, *args], env=dvm.environ(TERM="xterm", **(env or {})), cwd=str(dvm.tmp),
                         stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return p.wait(timeout=10), out.decode(errors="replace")


RED_ERROR = "\033[31mdvm: error:\033[0m"


def test_errors_are_red_on_a_terminal_only(dvm):
    code, out = run_on_terminal(dvm, "stauts")
    assert code == 2 and RED_ERROR in out, repr(out)
    # Not a terminal: no escape sequences at all.
    r = dvm.run("stauts")
    assert r.stderr.startswith("dvm: error: ") and "\033" not in r.stderr


@pytest.mark.parametrize("value", ["1", "true", "0"])
def test_no_color_turns_colour_off(dvm, value):
    # https://no-color.org: any non-empty value, even "0".
    code, out = run_on_terminal(dvm, "stauts", env={"NO_COLOR": value})
    assert code == 2 and "dvm: error: unknown command" in out and "\033[" not in out, repr(out)


def test_an_empty_no_color_is_unset(dvm):
    code, out = run_on_terminal(dvm, "stauts", env={"NO_COLOR": ""})
    assert RED_ERROR in out, repr(out)


def test_doctor_marks_are_coloured_on_a_terminal(dvm):
    dvm.vm("app", "baseline = false\n")
    _, out = run_on_terminal(dvm, "doctor")
    assert "\033[32mok     \033[0m" in out, repr(out)
    _, out = run_on_terminal(dvm, "doctor", env={"NO_COLOR": "1"})
    assert "ok     " in out and "\033[" not in out
    # --json on a terminal: plain JSON.
    _, out = run_on_terminal(dvm, "doctor", "--json")
    assert "\033[" not in out and json.loads(out)["schema"] == 2
