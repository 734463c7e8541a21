"""`dvm ssh NAME CMD...` and `dvm log NAME [UNIT] [ARGS...]` pass every word after NAME to the
guest untouched, even words that look like dvm's own options (issue 13, part 5: CLI11's
positionals_at_end() instead of splitting argv by hand)."""

import pytest

from conftest import shared_env


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with shared_env(tmp_path_factory, "passthrough", {"app": "baseline = false\n"}) as env:
        env.ok("sync", "app")
        yield env


def guest_argv(env):
    """The command after `limactl shell ... dvm-app` of the last shell call."""
    argv = env.sim.calls("shell")[-1]["argv"]
    return argv[argv.index("dvm-app") + 1:]


@pytest.mark.parametrize("words", [
    ["echo", "-la", "--json", "--verbose", "--help"],
    ["--", "echo", "--", "x"],  # one leading "--" separates; the next one is the guest's
    ["--json"],
    ["-h"],
])
def test_ssh_passes_every_word_after_the_name(running, words):
    running.sim.clear_calls()
    r = running.run("ssh", "app", *words)
    assert r.returncode in (0, 127), r.stderr
    expected = words[1:] if words[0] == "--" else words
    assert guest_argv(running)[-len(expected):] == expected
    # The words after NAME were not taken as dvm's flags: no JSON document, no help text.
    assert not r.stdout.startswith("{") and "Usage:" not in r.stdout


def test_ssh_flags_before_the_name_are_dvms(running):
    running.sim.clear_calls()
    r = running.run("ssh", "--json", "app", "true")
    assert r.returncode == 0, r.stderr
    assert guest_argv(running)[-1:] == ["true"]


def test_log_passes_unit_and_journalctl_words(running):
    running.sim.clear_calls()
    running.run("log", "app", "sshd.service", "-n", "5", "--json")
    assert guest_argv(running)[-6:] == ["journalctl", "-u", "sshd.service", "-n", "5", "--json"]


def test_stop_option_rules_show_in_help_and_refuse(running):
    help_text = running.ok("stop", "--help").stdout
    assert "Needs: --all" in help_text and "Needs: --inactive" in help_text
    for args in (["stop", "app", "--inactive"], ["stop", "--all", "--force"]):
        r = running.run(*args)
        assert r.returncode == 2 and "requires" in r.stderr, (args, r.stderr)
