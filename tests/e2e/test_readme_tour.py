"""The README's tour runs as written: every command of the ```sh block(s) after `<!-- tour -->`
in README.md, in order, each in its own `bash -c`, against the simulator, from a project
checkout in a temporary directory (not the repository) with relative paths, and with a fresh
HOME (so config and state are in their default places), LIMA_HOME and PATH holding the built
`dvm`. The README and this test cannot drift: change the tour and this runs the new one.

The user's editor is `true` (`dvm edit` then checks the file as saved), and stdin is empty
(`dvm sh` gets end of file and exits).
"""

import os
import re
import shlex
import subprocess

from conftest import DVM, SOURCE, require_sandbox

README = os.path.join(SOURCE, "README.md")
COMMIT_SUBJECT = "first commit of the tour"
# What the tour has to show a newcomer (issue 12): the dvm subcommands it must use.
REQUIRED_SUBCOMMANDS = {"templates", "init", "edit", "plan", "sync", "ls", "cp", "ssh", "ssh-key", "sh",
                        "status", "stop", "start", "ssh-config", "rm"}


def tour_commands(text):
    """The command lines of every ```sh block that follows a `<!-- tour -->` line."""
    blocks = re.findall(r"^<!-- tour -->\n```sh\n(.*?)^```$", text, re.M | re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line)
    return lines


def subcommand(line):
    words = shlex.split(line, comments=True)
    return words[1] if len(words) > 1 and words[0] == "dvm" else None


def test_the_tour_block_is_found_and_covers_a_first_hour():
    commands = tour_commands(open(README, encoding="utf-8").read())
    assert commands, "README.md has no ```sh block after <!-- tour -->"
    used = {subcommand(c) for c in commands}
    assert REQUIRED_SUBCOMMANDS <= used, f"the tour no longer shows {sorted(REQUIRED_SUBCOMMANDS - used)}"
    assert any("--restart" in c for c in commands if subcommand(c) == "sync")
    assert "dvm plan app --summary" in "\n".join(commands)


def test_tour_commands_parse_blocks_and_skip_comments():
    text = ("intro\n<!-- tour -->\n```sh\n# a comment\ndvm ls   # trailing\n\n  dvm sh app\n```\n"
            "```sh\ndvm not-in-the-tour\n```\n<!-- tour -->\n```sh\ndvm rm app --yes\n```\n")
    assert tour_commands(text) == ["dvm ls   # trailing", "  dvm sh app", "dvm rm app --yes"]


def test_every_tour_command_runs_in_order(dvm, tmp_path):
    require_sandbox()
    commands = tour_commands(open(README, encoding="utf-8").read())
    home = tmp_path / "tour-home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)  # as on a machine that has used ssh
    bin_dir = tmp_path / "tour-bin"
    bin_dir.mkdir()
    (bin_dir / "dvm").symlink_to(DVM)
    project = tmp_path / "work" / "app"  # the user's checkout; ../ is outside it
    project.mkdir(parents=True)
    env = dvm.environ(HOME=home, DVM_CONFIG=None, DVM_STATE=None, XDG_CONFIG_HOME=None, XDG_STATE_HOME=None,
                      EDITOR="true", VISUAL=None, NO_COLOR="1")
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    git = ["git", "-c", "user.name=Tour", "-c", "user.email=tour@example.invalid"]
    for argv in (["git", "init", "-q", "-b", "main"], ["sh", "-c", "echo '# app' > README.md"],
                 git + ["add", "README.md"], git + ["commit", "-qm", COMMIT_SUBJECT]):
        subprocess.run(argv, cwd=project, env=env, check=True, capture_output=True)

    transcript = []
    for line in commands:
        r = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=project, env=env, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=600)
        transcript.append(f"$ {line}\n{r.stdout}{r.stderr}")
        assert r.returncode == 0, (f"README tour: `{line}` exited {r.returncode}\n\n" +
                                   "\n".join(transcript)[-6000:])

    log = "\n".join(transcript)
    # The code got into the VM, and the config is where the tour says it is.
    assert COMMIT_SUBJECT in log
    assert (home / ".config" / "dvm" / "vms" / "app.toml").is_file()
    assert "Host dvm-app" in (home / ".ssh" / "dvm-app.config").read_text()
    assert not (tmp_path / "config" / "vms" / "app.toml").exists()  # nothing used the fixture's DVM_CONFIG
