"""Attacks on the sync guest program (issue 10, SECURITY.md): the agent user (`dvm-agent`) can write
the code dir and its own home, so nothing there may run when the main user's sync program runs,
even when the main user's login PATH names such a directory; and a dropped connection at any point
of the secret frames must leave no secret staged in the guest.

Two VMs share the module: `app` (the agent-user recipe) for the planted programs, and `drop`
(nothing but secrets and a short recipe) whose guest program the drop test cuts at every byte
offset around the secret frames, driving `limactl shell` directly with the program `dvm plan`
prints (the redacted lengths and values put back)."""

import json
import os
import secrets
import subprocess
import time

import pytest

from conftest import DVM, shared_env

AGENT = "dvm-agent"
MARKS = "/tmp/guest-attack"
TOKEN = "hunter2-" + secrets.token_hex(8)
# The programs the agent plants. Each records that it ran (and a copy of its stdin for the ones
# that read secrets), world-readable, then runs the real program so a sync would still work.
PLANTED = ["bash", "sh", "git", "find", "sudo", "rm", "head", "hostname", "hostnamectl", "od", "tr", "id",
           "install", "wc", "cat", "kill", "ps", "pkill", "sleep", "mkdir", "env", "realpath", "stat",
           "dirname", "mktemp", "setfacl", "mv", "tee", "sed", "grep", "awk", "chmod", "ls", "dnf5"]
PLANT = f"""#!/bin/sh
umask 000
n=${{0##*/}}
echo "$n $*" >>{MARKS}/ran
for d in /.limasim/guest/bin /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  if [ -x "$d/$n" ]; then
    case $n in head|cat) exec /usr/bin/tee -a {MARKS}/stdin-$n | "$d/$n" "$@" ;; esac
    exec "$d/$n" "$@"
  fi
done
exit 127
"""
DROP_SECRETS = {"S1": "first-" + secrets.token_hex(4), "S2": "two\nlines " + secrets.token_hex(4)}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with shared_env(tmp_path_factory, "attackguest", {
        "app": 'baseline = false\nrecipes = ["agent-user", "tools"]\nsecrets = ["MY_TOKEN"]\n',
        "drop": 'baseline = false\nrecipes = ["pause"]\nsecrets = ["S1", "S2"]\n',
    }) as e:
        # A user recipe that runs the usual tools and reads the secret, as recipes do.
        e.recipe("tools", 'git --version >/dev/null\nfind "$HOME" -maxdepth 0 >/dev/null\nhostname >/dev/null\n'
                          'dvm_secret MY_TOKEN | head -c 3 >/dev/null\nrm -f "$HOME/nothing"\nsleep 0\n')
        e.recipe("pause", "sleep 0.2\n")
        e.ok("sync", "app", env={"MY_TOKEN": "first"})
        e.ok("sync", "drop", env=DROP_SECRETS)
        e.home_dir = e.guest("app", 'printf %s "$HOME"')
        e.code = e.home_dir + "/code/app"
        yield e


def secrets_left(env, vm):
    """What is left under the guest's /run/dvm-secrets (read from the host, which is root)."""
    root = env.sim.guest_path("dvm-" + vm, "/run/dvm-secrets")
    out = []
    for base, dirs, files in os.walk(root):
        out += [os.path.join(base, n) for n in dirs + files]
    return out


@pytest.mark.needs_simulator("the guest's /run read from the host (sim.guest_path)")
def test_planted_programs_never_run_during_a_sync(shared):
    env = shared
    # A careless main user puts a directory of the code dir on its login PATH.
    env.guest("app", 'for f in .bashrc .profile; do printf \'%s\\n\' \'export PATH="$HOME/code/app/bin:$HOME/code/app/.bin:$PATH"\' >>"$HOME/$f"; done')
    # The agent plants its programs in the code dir (bin/ and .bin/, /workspace in its sandbox)
    # and in its own ~/.local/bin.
    script = "set -e\n"
    for d in (f"{env.code}/bin", f"{env.code}/.bin", "$HOME/.local/bin"):
        script += f'/usr/bin/mkdir -p "{d}"\n'
        for name in PLANTED:
            script += f"/usr/bin/cat >\"{d}/{name}\" <<'EOF'\n{PLANT}EOF\n/usr/bin/chmod 755 \"{d}/{name}\"\n"
    env.guest("app", script, user=AGENT)
    env.guest("app", f"rm -rf {MARKS} && mkdir -m 1777 {MARKS}", user="root")
    # The main user's login shell now finds the agent's programs first.
    assert env.guest("app", "command -v git").strip() == f"{env.code}/bin/git"
    env.sim.clear_calls()

    r = env.run("sync", "app", env={"MY_TOKEN": TOKEN})

    ran = env.guest("app", f"/usr/bin/cat {MARKS}/ran 2>/dev/null || true", user="root")
    assert ran == "", "planted programs ran:\n" + ran
    # The secret is in no file the agent can read (it searches every place it can write).
    found = env.guest("app", f"/usr/bin/grep -rlF -- {TOKEN} /tmp /var/tmp /dev/shm /home /run {env.code} 2>/dev/null || true",
                      user=AGENT)
    assert found == ""
    assert r.returncode == 0, r.stderr
    assert secrets_left(env, "app") == []
    env.guest("app", f'/usr/bin/sed -i "/code\\/app\\/bin/d" "$HOME/.bashrc" "$HOME/.profile" && '
                     f'/usr/bin/rm -rf {env.code}/bin {env.code}/.bin')


def program_with_secrets(env):
    """The guest program of `drop` as `dvm plan` shows it, with the secrets put back."""
    plan = json.loads(env.ok("plan", "drop", "--json", env=DROP_SECRETS).stdout)
    text = plan["guest_program"]
    for name in sorted(DROP_SECRETS):
        value = DROP_SECRETS[name]
        frame = f"{name} <redacted>\n<redacted>"
        assert frame in text
        text = text.replace(frame, f"{name} {len(value.encode())}\n{value}", 1)
    argv = plan["limactl_calls"][-1]["argv"]
    assert argv[1:5] == ["shell", "--workdir", "/", "dvm-drop"] and argv[-1] == "-s"
    return text.encode(), argv[1:]


def cut_at(env, program, argv, offset):
    env.sim.configure(faults=[{"action": "die_mid_stdin", "subcommand": "shell", "after_bytes": offset}])
    env.sim.run(*argv, stdin=program, env=env.sim.env(), timeout=60)
    deadline = time.monotonic() + 5
    while True:
        left = secrets_left(env, "drop")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.needs_simulator("fault injection (a connection that dies mid-stdin)")
def test_no_secret_survives_a_connection_dropped_at_any_offset(shared):
    env = shared
    program, argv = program_with_secrets(env)
    start = program.index(b"__dvm_read_secrets 2\n")
    end = program.index(b"exec 2>&1\n", start)
    offsets = list(range(start - 8, end + 24))
    # and a sample of the rest: the helpers, the recipe, the cleanup and the hook
    rest = range(end + 24, len(program), max(1, (len(program) - end) // 8))
    run_line = program.index(b"__dvm_run_recipe pause")
    offsets += list(rest) + [run_line + len(b"__dvm_run_recipe pause __dvm_recipe_1\n"), len(program) - 1]
    failed = {}
    try:
        for offset in offsets:
            left = cut_at(env, program, argv, offset)
            if left:
                failed[offset - start] = left
                env.guest("drop", "rm -rf /run/dvm-secrets/*", user="root")
    finally:
        env.sim.configure(faults=[])
    assert failed == {}, f"secrets left after a drop at these offsets from the reader's call: {failed}"


@pytest.mark.needs_simulator("the guest's /run read from the host (sim.guest_path)")
def test_the_watchdog_removes_the_secrets_when_the_main_shell_is_killed(shared, tmp_path):
    env = shared
    env.recipe("stall", 'echo "$$" >/tmp/dvm-main.pid\nsleep 30\n')
    env.vm("drop", 'baseline = false\nrecipes = ["stall"]\nsecrets = ["S1", "S2"]\n')
    env.guest("drop", "rm -f /tmp/dvm-main.pid", user="root")
    p = subprocess.Popen([DVM, "sync", "drop"], env=env.environ(**DROP_SECRETS), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while env.guest("drop", "cat /tmp/dvm-main.pid 2>/dev/null || true", user="root").strip() == "":
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.1)
        assert secrets_left(env, "drop") != []  # staged while the recipe runs
        env.guest("drop", "kill -KILL $(cat /tmp/dvm-main.pid)", user="root")
        deadline = time.monotonic() + 5
        while secrets_left(env, "drop") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert secrets_left(env, "drop") == []
    finally:
        p.terminate()
        p.wait(60)
        env.vm("drop", 'baseline = false\nrecipes = ["pause"]\nsecrets = ["S1", "S2"]\n')
