"""The lifecycle commands end to end: `ls`, `status`, `ssh`, `cp`, `log`, `stop`, `version`,
through the real `dvm` binary against the Lima simulator, with the guest commands really running
in the simulator's guest sandbox.

Most tests share one synced VM (`app`) per module; tests that stop or start VMs make their own."""

import json
import os
import re
import signal
import subprocess

import pytest

from conftest import DVM, require_sandbox, shared_env, wait_until

APP = 'baseline = false\ncpus = 1\nmemory = "1GiB"\ndisk = "12GiB"\nports = ["127.0.0.1:18081:80", "0.0.0.0:18443:443"]\n'
GHOST = 'baseline = false\ncpus = 3\nmemory = "3GiB"\ndisk = "20GiB"\n'
GIB = 1 << 30


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """`app` synced and running, `ghost` configured but never created, and Lima instances that
    are not DVM's (`other`, `dvmapp`, `dvm-Upper`)."""
    with shared_env(tmp_path_factory, "life", {"app": APP, "ghost": GHOST}, sync=["app"]) as e:
        for foreign in ("other", "dvmapp", "dvm-Upper"):
            e.sim.create_instance(foreign, running=False)
        e.home_dir = e.guest("app", 'printf %s "$HOME"')
        e.code_dir = e.home_dir + "/code/app"
        yield e


def instance_by_name(sim, name):
    return next(i for i in sim.list_json() if i["name"] == name)


def fresh_calls(env):
    env.sim.clear_calls()


# --- ls ----------------------------------------------------------------------------------------


def test_ls_json_lists_dvm_vms_without_prefix_and_absent_configured_ones(env):
    fresh_calls(env)
    vms = env.json("ls")
    assert isinstance(vms, list)
    assert [v["name"] for v in vms] == ["app", "ghost"]  # never other, dvmapp, dvm-Upper
    app, ghost = vms
    port = instance_by_name(env.sim, "dvm-app")["sshLocalPort"]
    assert port > 0
    assert app["state"] == "Running"
    assert app["ssh_address"] == f"127.0.0.1:{port}"
    assert (app["cpus"], app["memory_bytes"], app["disk_bytes"]) == (1, GIB, 12 * GIB)
    assert ghost["state"] == "absent"
    assert ghost["ssh_address"] == ""
    assert (ghost["cpus"], ghost["memory_bytes"], ghost["disk_bytes"]) == (3, 3 * GIB, 20 * GIB)
    # One state query for everything (the version check is cached).
    assert env.subcommands() == ["list"]
    assert env.sim.calls()[0]["argv"] == ["list", "--json"]


def test_ls_text_table(env):
    r = env.ok("ls")
    rows = [line.split() for line in r.stdout.splitlines()]
    port = instance_by_name(env.sim, "dvm-app")["sshLocalPort"]
    assert rows == [
        ["NAME", "STATUS", "SSH", "CPUS", "MEMORY", "DISK"],
        ["app", "Running", f"127.0.0.1:{port}", "1", "1GiB", "12GiB"],
        ["ghost", "absent", "-", "3", "3GiB", "20GiB"],
    ]
    assert "other" not in r.stdout and "Upper" not in r.stdout and "dvmapp" not in r.stdout


def test_ls_with_nothing_at_all(dvm):
    assert dvm.json("ls") == []
    assert dvm.ok("ls").stdout.split() == ["NAME", "STATUS", "SSH", "CPUS", "MEMORY", "DISK"]


def test_ls_shows_a_dvm_instance_without_config_and_a_stopped_one(dvm):
    dvm.sim.create_instance("dvm-orphan", running=False)
    dvm.sim.create_instance("not-dvm", running=False)
    vms = dvm.json("ls")
    assert [(v["name"], v["state"], v["configured"]) for v in vms] == [("orphan", "Stopped", False)]
    s = dvm.json("status", "orphan")
    assert (s["name"], s["state"], s["configured"], s["code_dir"]) == ("orphan", "Stopped", False, "")
    assert "instance: dvm-orphan (no config file)" in [" ".join(l.split()) for l in dvm.ok("status", "orphan").stdout.splitlines()]


# --- status ------------------------------------------------------------------------------------


def test_status_json_of_a_running_vm(env):
    fresh_calls(env)
    s = env.json("status", "app")
    port = instance_by_name(env.sim, "dvm-app")["sshLocalPort"]
    assert s["name"] == "app"
    assert s["instance"] == "dvm-app"
    assert s["state"] == "Running"
    assert s["configured"] is True
    assert s["ssh_address"] == f"127.0.0.1:{port}"
    assert (s["cpus"], s["memory_bytes"], s["disk_bytes"]) == (1, GIB, 12 * GIB)
    assert s["code_dir"] == "~/code/app"
    assert s["ports"] == [
        {"host_ip": "127.0.0.1", "host_port": 18081, "guest_port": 80, "proto": "tcp"},
        {"host_ip": "0.0.0.0", "host_port": 18443, "guest_port": 443, "proto": "tcp"},
    ]
    # No recipes (baseline = false): no guest call for their records (e2e.incremental_sync).
    assert [c["argv"] for c in env.sim.calls()] == [["list", "--json", "dvm-app"]]
    assert s["recipe_states"] == []


def test_status_text_and_the_dvm_prefix(env):
    r = env.ok("status", "dvm-app")
    lines = [" ".join(line.split()) for line in r.stdout.splitlines()]
    assert "name: app" in lines
    assert "instance: dvm-app" in lines
    assert "status: Running" in lines
    assert "resources: 1 CPUs, 1GiB memory, 12GiB disk" in lines
    assert "ports: 127.0.0.1:18081 -> guest 80/tcp" in lines
    assert "0.0.0.0:18443 -> guest 443/tcp (reachable from other machines)" in lines


def test_status_of_a_configured_vm_that_does_not_exist_yet(env):
    s = env.json("status", "ghost")
    assert s["state"] == "absent"
    assert (s["cpus"], s["memory_bytes"], s["disk_bytes"]) == (3, 3 * GIB, 20 * GIB)
    assert "status: absent" in [" ".join(line.split()) for line in env.ok("status", "ghost").stdout.splitlines()]


def test_status_of_an_unknown_vm_is_a_usage_error(env):
    r = env.run("status", "nope")
    assert r.returncode == 2
    assert 'no VM named "nope"' in r.stderr
    r = env.run("--json", "status", "nope")
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "not_found" and "nope" in err["message"]


def test_status_of_a_non_dvm_instance_is_not_found(env):
    # `other` exists in Lima but is not dvm-other: dvm never reports it.
    r = env.run("status", "other")
    assert r.returncode == 2
    assert "no VM named" in r.stderr


# --- ssh ---------------------------------------------------------------------------------------


def test_ssh_returns_the_guest_exit_status(env):
    assert env.run("ssh", "app", "--", "sh", "-c", "exit 7").returncode == 7
    assert env.run("ssh", "app", "sh", "-c", "exit 42").returncode == 42
    assert env.run("ssh", "app", "--", "true").returncode == 0
    assert env.run("ssh", "app", "--", "false").returncode == 1


def test_ssh_runs_in_the_code_dir_as_the_guest_user(env):
    r = env.ok("ssh", "app", "--", "sh", "-c", 'pwd; id -un; printf "%s\\n" "$HOME"', input="")
    assert r.stdout.splitlines() == [env.code_dir, env.home_dir.rsplit("/", 1)[1], env.home_dir]


def test_ssh_argv_reaches_the_guest_exactly(env):
    args = ["a b", "it's", '"dq"', "$(touch /tmp/pwned)", "`touch /tmp/pwned2`", "$HOME", "*", ";",
            "&&", "K=V", "X=$(id)", "", " lead", "trail ", "new\nline", "back\\slash", "-n", "--", "~"]
    r = env.ok("ssh", "app", "--", "printf", "[%s]\\n", *args, input="")
    assert r.stdout == "".join(f"[{a}]\n" for a in args)
    assert env.guest("app", "ls /tmp/pwned /tmp/pwned2 2>/dev/null || true", user="root") == ""
    shell = env.sim.calls("shell")[-1]
    # Every flag before the instance name; the user's words at the end, untouched.
    assert shell["argv"][:4] == ["shell", "--workdir", "/", "dvm-app"]
    assert shell["argv"][-len(args) - 2:] == ["printf", "[%s]\\n", *args]


def test_ssh_a_leading_assignment_is_a_word_not_an_environment_change(env):
    # Lima reads leading K=V words as environment assignments; dvm's command never starts with
    # the user's words, so `K=V` stays the program name, exactly as given.
    r = env.run("ssh", "app", "--", "FOO=bar", "sh", "-c", 'echo "${FOO:-unset}"', input="")
    assert r.returncode == 127
    assert "bar" not in r.stdout
    assert "FOO=bar" in r.stderr
    r = env.ok("ssh", "app", "--", "env", "FOO=b a r", "sh", "-c", 'printf "%s" "$FOO"', input="")
    assert r.stdout == "b a r"


def test_ssh_words_that_look_like_options_reach_the_guest(env):
    r = env.ok("ssh", "app", "ls", "-a", "-d", "--", ".", input="")
    assert r.stdout == ".\n"
    r = env.run("ssh", "app", "--", "--help", input="")
    assert r.returncode == 127  # `--help` is the guest command, not dvm's flag


def test_ssh_passes_stdin_through_and_keeps_streams_apart(env):
    data = b"line one\n\x00\x01\xff binary\nlast"
    r = env.run("ssh", "app", "--", "cat", input=data, binary=True)
    assert r.returncode == 0
    assert r.stdout == data
    r = env.run("ssh", "app", "--", "sh", "-c", "echo out; echo err >&2", input="")
    assert (r.stdout, r.stderr) == ("out\n", "err\n")


def test_ssh_needs_a_command(env):
    fresh_calls(env)
    for args in (["ssh", "app"], ["ssh", "app", "--"]):
        r = env.run(*args)
        assert r.returncode == 2, args
        assert "ssh needs a command" in r.stderr
    assert env.sim.calls() == []


def test_ssh_unknown_and_absent_vms(env):
    fresh_calls(env)
    r = env.run("ssh", "nope", "--", "true")
    assert r.returncode == 2
    assert "nope" in r.stderr
    assert env.sim.calls() == []  # no config: nothing to ask Lima
    r = env.run("ssh", "ghost", "--", "true")
    assert r.returncode == 1
    assert "dvm sync ghost" in r.stderr
    assert env.subcommands() == ["list"]


def test_sh_is_a_login_shell_in_the_code_dir(env):
    # Not a terminal here, so the shell reads its commands from stdin.
    r = env.run("sh", "app", input='pwd\nshopt -q login_shell && echo login\nexit 3\n')
    assert r.returncode == 3
    assert r.stdout.splitlines() == [env.code_dir, "login"]


# --- cp ----------------------------------------------------------------------------------------


def test_cp_host_to_guest_paths(env, tmp_path):
    src = tmp_path / "hello.txt"
    src.write_text("hello from the host\n")
    env.ok("cp", str(src), "app:")
    env.ok("cp", str(src), "app:renamed.txt")
    env.ok("cp", str(src), "app:./dot.txt")
    env.ok("cp", str(src), "app:~/in-home.txt")
    env.ok("cp", str(src), "app:/tmp/absolute.txt")
    env.ok("cp", str(src), "dvm-app:prefixed.txt")
    code, home = env.code_dir, env.home_dir
    for path in (f"{code}/hello.txt", f"{code}/renamed.txt", f"{code}/dot.txt", f"{home}/in-home.txt",
                 "/tmp/absolute.txt", f"{code}/prefixed.txt"):
        assert env.guest("app", f"cat {path}") == "hello from the host\n", path
    copies = env.sim.calls("copy")
    # Into the code dir, limactl copies into a private staging directory next to it, and a guest
    # script moves the items into place (SECURITY.md, test_attack_cp.py); elsewhere it copies
    # straight to the target.
    staging = f"dvm-app:{os.path.dirname(code)}/.dvm-cp."
    # `--` ends limactl's flags (upstream/cmd/limactl/copy.go:43-56), and a staging directory
    # as target ends with "/" so that rsync copies a directory as scp does.
    assert copies[0]["argv"][:3] == ["copy", "--", str(src)] and copies[0]["argv"][3].startswith(staging)
    assert copies[0]["argv"][3].endswith("/")
    assert copies[1]["argv"][-1].startswith(staging) and copies[1]["argv"][-1].endswith("/renamed.txt")
    assert copies[3]["argv"][-1] == f"dvm-app:{home}/in-home.txt"
    assert copies[4]["argv"][-1] == "dvm-app:/tmp/absolute.txt"
    assert env.guest("app", f'ls -A {os.path.dirname(code)}').split() == [os.path.basename(code)]


def test_cp_guest_to_host_and_directories(env, tmp_path):
    env.guest("app", 'mkdir -p "$HOME/code/app/tree/sub" && printf one >"$HOME/code/app/tree/a" && '
                     'printf two >"$HOME/code/app/tree/sub/b" && printf home >"$HOME/h.txt"')
    env.ok("cp", "app:tree/a", str(tmp_path / "a"))
    env.ok("cp", "app:~/h.txt", str(tmp_path))
    env.ok("cp", "-r", "app:tree", str(tmp_path / "copy"))
    assert (tmp_path / "a").read_text() == "one"
    assert (tmp_path / "h.txt").read_text() == "home"
    assert (tmp_path / "copy" / "sub" / "b").read_text() == "two"
    # and a directory plus a file into the guest in one call
    (tmp_path / "up" / "deep").mkdir(parents=True)
    (tmp_path / "up" / "deep" / "f").write_text("deep")
    (tmp_path / "single").write_text("single")
    env.ok("cp", "-r", str(tmp_path / "up"), str(tmp_path / "single"), "app:")
    assert env.guest("app", 'cat "$HOME/code/app/up/deep/f" "$HOME/code/app/single"') == "deepsingle"
    r = env.run("cp", "app:tree/missing", str(tmp_path / "m"))
    assert r.returncode == 1
    assert "missing" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["app:a", "ghost:b"], "only one VM"),
    (["app:a", "/tmp/x", "ghost:"], "only one VM"),
    (["/tmp/a", "/tmp/b"], "VM path"),
    (["app:a", "app:b"], "both sides are VM paths"),
    (["app:a", "/tmp/b", "/tmp/c"], "not both"),
    (["/tmp/with:colon", "app:"], "must not contain ':'"),
    (["app:x", "./rel:colon"], "must not contain ':'"),
    (["/tmp/a"], None),
    (["--backend=ftp", "/tmp/a", "app:"], "backend"),
])
def test_cp_refuses_bad_operands_without_calling_limactl(env, args, message):
    fresh_calls(env)
    r = env.run("cp", *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("dvm: error: ")
    if message:
        assert message in r.stderr
    assert env.sim.calls() == []


def test_cp_refreshes_the_agent_users_acls_when_it_exists(env, tmp_path):
    (tmp_path / "before.txt").write_text("x")
    env.ok("cp", str(tmp_path / "before.txt"), "app:")  # no agent user yet: no ACL, no warning
    assert "dvm-agent" not in env.guest("app", 'getfacl -p "$HOME/code/app/before.txt"')

    env.guest("app", "useradd --system --create-home dvm-agent", user="root")
    (tmp_path / "pkg" / "lib").mkdir(parents=True)
    (tmp_path / "pkg" / "lib" / "mod.py").write_text("print(1)\n")
    (tmp_path / "notes.txt").write_text("notes\n")
    (tmp_path / "it's a file").write_text("q\n")
    r = env.ok("cp", "-r", str(tmp_path / "pkg"), str(tmp_path / "notes.txt"), str(tmp_path / "it's a file"), "app:")
    assert "warning" not in r.stderr
    acl = lambda p: env.guest("app", f'getfacl -p "$HOME/code/app/{p}"')  # noqa: E731
    assert "user:dvm-agent:rw-" in acl("notes.txt")
    assert "user:dvm-agent:rw-" in env.guest("app", 'getfacl -p "$HOME/code/app/it\'s a file"')
    assert "user:dvm-agent:rw-" in acl("pkg/lib/mod.py")
    pkg = acl("pkg/lib")
    assert "user:dvm-agent:rwx" in pkg and "default:user:dvm-agent:rwx" in pkg
    code = env.guest("app", 'getfacl -p "$HOME/code/app"')
    assert "user:dvm-agent:rwx" in code and "default:user:dvm-agent:rwx" in code
    assert "user:dvm-agent:--x" in env.guest("app", 'getfacl -p "$HOME"')
    # The agent user can now really read what was copied (and nothing was touched outside).
    assert env.guest("app", f"cat {env.code_dir}/pkg/lib/mod.py", user="dvm-agent") == "print(1)\n"
    # Copies outside the code dir get no agent access.
    env.ok("cp", str(tmp_path / "notes.txt"), "app:~/private.txt")
    assert "dvm-agent" not in env.guest("app", 'getfacl -p "$HOME/private.txt"')
    # Outside the code dir: one guest script before the copy (it finds where the target is).
    subs = env.subcommands()
    assert subs[-2:] == ["shell", "copy"]
    # Into the code dir: the ACLs and the move into place are one extra guest script after it.
    env.ok("cp", str(tmp_path / "notes.txt"), "app:again.txt")
    assert env.subcommands()[-3:] == ["shell", "copy", "shell"]


# --- log ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def svc(env):
    """A second VM whose config file the log tests rewrite (the instance stays)."""
    env.vm("svc", "baseline = false\n")
    env.ok("sync", "svc")
    env.guest("svc", "true")
    yield env
    env.vm("svc", "baseline = false\n")


def journal_calls(env):
    calls = env.sim.guest_calls("dvm-svc", "journalctl")
    assert all(c["euid"] == 0 for c in calls)  # through sudo: the guest user cannot read the journal
    return [c["argv"] for c in calls]


@pytest.mark.needs_simulator("the call log of its journalctl stand-in (sim.guest_calls)")
@pytest.mark.parametrize("recipe, env_lines, unit", [
    ("cloudflared", "", "dvm-cloudflared.service"),
    ("cloudflared", '[env]\nCLOUDFLARED_SERVICE = "tunnel.service"\n', "tunnel.service"),
    ("llama", "", "dvm-llama.service"),
    ("llama", '[env]\nLLAMA_SERVICE = "models.service"\n', "models.service"),
    ("tailscale", "", "tailscaled.service"),
])
def test_log_infers_the_unit_of_the_one_service_recipe(svc, recipe, env_lines, unit):
    svc.vm("svc", f'baseline = false\nrecipes = ["{recipe}"]\n{env_lines}')
    before = len(journal_calls(svc))
    svc.ok("log", "svc")
    calls = journal_calls(svc)
    assert len(calls) == before + 1
    assert calls[-1][-5:] == ["-u", unit, "--no-pager", "-n", "100"]


@pytest.mark.needs_simulator("the call log of its journalctl stand-in (sim.guest_calls)")
def test_log_follow_ends_quietly_on_ctrl_c(svc):
    """`dvm log NAME UNIT -f` is ended by Ctrl-C, as `journalctl -f` is: exit 0, no error."""
    svc.guest("svc", "printf '[Unit]\\nDescription=Follow\\n' >/etc/systemd/system/follow.service && "
                     "systemctl start follow.service", user="root")
    p = subprocess.Popen([DVM, "log", "svc", "follow.service", "-f"], env=svc.environ(), cwd=str(svc.tmp),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # journalctl -f has printed the journal and is following it.
        first = p.stdout.readline()
        assert "Started Follow." in first, first + p.stderr.read()
        assert p.poll() is None, "dvm log -f returned before Ctrl-C"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "error" not in err and "interrupted" not in err
    # The `limactl shell` of the journalctl call is gone, not left following the journal.
    def following():
        for pid in svc.sim.processes():
            try:
                if b"journalctl" in open(f"/proc/{pid}/cmdline", "rb").read():
                    return True
            except OSError:  # ended meanwhile
                pass
        return False
    wait_until(lambda: not following(), what="the limactl shell running journalctl -f to end")


@pytest.mark.needs_simulator("the call log of its journalctl stand-in (sim.guest_calls)")
def test_log_default_and_explicit_arguments(svc):
    svc.vm("svc", 'baseline = false\nrecipes = ["tailscale"]\n')
    svc.guest("svc", "printf '[Unit]\\nDescription=Example\\n' >/etc/systemd/system/web.service && "
                     "systemctl start web.service && systemctl stop web.service", user="root")
    r = svc.ok("log", "svc", "web.service")
    assert journal_calls(svc)[-1][-5:] == ["-u", "web.service", "--no-pager", "-n", "100"]
    assert "Started Example." in r.stdout and "Stopped Example." in r.stdout
    r = svc.ok("log", "svc", "web.service", "--no-pager", "-n", "1")
    assert journal_calls(svc)[-1][-5:] == ["-u", "web.service", "--no-pager", "-n", "1"]
    assert "Stopped Example." in r.stdout and "Started Example." not in r.stdout
    # Arguments without a unit: the unit is still inferred, the arguments replace the default.
    svc.ok("log", "svc", "--", "-n", "5", "--no-pager")
    assert journal_calls(svc)[-1][-5:] == ["-u", "tailscaled.service", "-n", "5", "--no-pager"]
    svc.ok("log", "svc", "-n", "7")
    assert journal_calls(svc)[-1][-3:] == ["tailscaled.service", "-n", "7"]


@pytest.mark.parametrize("recipes, count", [("[]", "no"), ('["cloudflared", "tailscale"]', "2")])
def test_log_without_a_unit_needs_exactly_one_service_recipe(svc, recipes, count):
    svc.vm("svc", f"baseline = false\nrecipes = {recipes}\n")
    svc.sim.clear_calls()
    r = svc.run("log", "svc")
    assert r.returncode == 2
    assert f"uses {count} service recipes" in r.stderr
    assert "dvm log svc" in r.stderr  # says how to name the unit
    assert svc.sim.calls() == []


def test_log_refuses_a_unit_name_that_is_not_one(svc):
    svc.sim.clear_calls()
    for unit in ("bad;unit", "a b", "$(id)"):
        r = svc.run("log", "svc", unit)
        assert r.returncode == 2, unit
        assert "is not a systemd unit name" in r.stderr
    assert svc.sim.calls() == []


@pytest.mark.needs_simulator("its journalctl stand-in's empty sshd journal")
def test_a_stopped_vm_is_started_for_ssh_cp_and_log(env, tmp_path):
    # Runs last of the tests on `app`: it leaves the VM running, but freshly booted.
    env.sim.stop("dvm-app", force=False)
    env.sim.clear_calls()
    r = env.run("ssh", "app", "--", "sh", "-c", "echo up", input="")
    assert (r.returncode, r.stdout) == (0, "up\n")
    assert "starting dvm-app" in r.stderr
    assert env.subcommands() == ["list", "start", "shell"]
    assert states(env)["dvm-app"] == "Running"

    env.sim.stop("dvm-app", force=False)
    (tmp_path / "f").write_text("f")
    env.ok("cp", str(tmp_path / "f"), "app:")
    assert states(env)["dvm-app"] == "Running"
    assert env.guest("app", 'cat "$HOME/code/app/f"') == "f"

    env.sim.stop("dvm-app", force=False)
    r = env.ok("log", "app", "sshd.service")
    assert "-- No entries --" in r.stdout
    assert states(env)["dvm-app"] == "Running"


# --- version -----------------------------------------------------------------------------------


@pytest.mark.needs_simulator("its version, 2.0.3")
def test_version(dvm):
    r = dvm.ok("version")
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"dvm \d+\.\d+\.\d+.*", lines[0])
    assert lines[1] == "limactl 2.0.3"
    assert dvm.ok("--version").stdout.strip() == lines[0].split()[1]
    v = dvm.json("version")
    assert v["dvm"] == lines[0].split()[1] and v["limactl"] == "2.0.3"
    # The version is cached per binary: the second run made no new --version call.
    assert [c["argv"] for c in dvm.sim.calls()] == [["--version"]]


def test_version_without_limactl_still_prints_dvms_version(dvm):
    r = dvm.ok("version", env={"LIMACTL": "/nonexistent/limactl"})
    assert r.stdout.splitlines()[1].startswith("limactl unavailable: limactl not found at /nonexistent/limactl")


# --- stop --------------------------------------------------------------------------------------


@pytest.fixture
def fleet(dvm):
    """Four running dvm VMs, a stopped dvm instance and a stopped instance that is not DVM's."""
    require_sandbox()
    for n in "abcd":
        dvm.vm(n, "baseline = false\n")
    sync_many(dvm, "abcd")
    dvm.sim.create_instance("dvm-e", running=False)
    dvm.sim.create_instance("other", running=False)
    dvm.sim.clear_calls()
    return dvm


def sync_many(dvm, names):
    """`dvm sync` of several VMs at once, as separate processes (`sync --all -j N` is the sync
    tests' business)."""
    procs = [subprocess.Popen([DVM, "sync", n], env=dvm.environ(), cwd=str(dvm.tmp), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in names]
    for n, p in zip(names, procs):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, f"dvm sync {n}: {err}"


def states(dvm):
    return {i["name"]: i["status"] for i in dvm.sim.list_json()}


def test_stop_one_vm_and_its_errors(fleet):
    r = fleet.ok("stop", "a")
    assert "stopping dvm-a" in r.stderr
    assert [c["argv"] for c in fleet.sim.calls()] == [["list", "--json", "dvm-a"], ["stop", "dvm-a"]]
    assert states(fleet)["dvm-a"] == "Stopped"
    assert fleet.json("stop", "dvm-b") == {"schema": 2, "vm": "b", "stopped": True}
    assert states(fleet)["dvm-b"] == "Stopped"
    # Stopping a stopped VM is a warning, not an error, and calls no `limactl stop`.
    fleet.sim.clear_calls()
    r = fleet.ok("stop", "a")
    assert "already stopped" in r.stderr
    assert fleet.subcommands() == ["list"]
    assert fleet.json("stop", "a") == {"schema": 2, "vm": "a", "stopped": False}

    fleet.sim.start("other")
    fleet.sim.clear_calls()
    for name in ("ghost", "other"):  # no config, no dvm- instance (`other` is not DVM's)
        r = fleet.run("stop", name)
        assert r.returncode == 2, r.stderr
        assert f'no VM named "{name}"' in r.stderr
    fleet.vm("absent", "baseline = false\n")
    r = fleet.run("stop", "absent")
    assert r.returncode == 1
    assert "does not exist" in r.stderr and "dvm sync absent" in r.stderr
    assert states(fleet)["other"] == "Running"
    assert "stop" not in fleet.subcommands()


def test_stop_all_stops_only_running_dvm_vms(fleet):
    fleet.sim.start("other")
    r = fleet.ok("stop", "--all")
    assert "dvm stop --all: 4 stopped, 0 skipped, 0 failed" in r.stdout
    st = states(fleet)
    assert [st[f"dvm-{n}"] for n in "abcde"] == ["Stopped"] * 5
    assert st["other"] == "Running"
    stops = sorted(c["argv"] for c in fleet.sim.calls("stop"))
    assert stops == [["stop", f"dvm-{n}"] for n in "abcd"]
    # Nothing left to stop.
    r = fleet.json("stop", "--all")
    assert (r["stopped"], r["skipped"], r["failed"], r["results"]) == (0, 0, 0, [])


@pytest.mark.needs_simulator("its systemctl stand-in, which starts units without ExecStart")
def test_stop_all_inactive_skips_vms_in_use(fleet):
    # a: a tmux server and the llama unit; b: a zellij session; c: its cloudflared unit, under
    # the name its config gives it; d: idle (a process merely named like tmux does not count).
    unit = "printf '[Unit]\\nDescription=%s\\n' {0} >/etc/systemd/system/{0} && systemctl start {0}"
    fleet.guest("a", "setsid bash -c 'exec -a tmux sleep 300' </dev/null >/dev/null 2>&1 &")
    fleet.guest("a", unit.format("dvm-llama.service"), user="root")
    fleet.guest("b", "setsid bash -c 'exec -a zellij sleep 300' </dev/null >/dev/null 2>&1 &")
    fleet.vm("c", 'baseline = false\nrecipes = ["cloudflared"]\n[env]\nCLOUDFLARED_SERVICE = "tunnel.service"\n')
    fleet.guest("c", unit.format("tunnel.service"), user="root")
    fleet.guest("d", "setsid bash -c 'exec -a tmuxinator-not-tmux sleep 300' </dev/null >/dev/null 2>&1 &")
    fleet.guest("d", unit.format("unrelated.service"), user="root")
    r = fleet.json("stop", "--all", "--inactive")
    by_vm = {o["vm"]: o for o in r["results"]}
    assert set(by_vm) == {"a", "b", "c", "d"}  # e is stopped, other is not DVM's
    assert by_vm["a"] == {"vm": "a", "action": "skipped", "reason": "active: tmux dvm-llama.service"}
    assert by_vm["b"] == {"vm": "b", "action": "skipped", "reason": "active: zellij"}
    assert by_vm["c"] == {"vm": "c", "action": "skipped", "reason": "active: tunnel.service"}
    assert by_vm["d"]["action"] == "stopped"
    assert (r["stopped"], r["skipped"], r["failed"]) == (1, 3, 0)
    st = states(fleet)
    assert (st["dvm-a"], st["dvm-b"], st["dvm-c"], st["dvm-d"]) == ("Running", "Running", "Running", "Stopped")
    assert sorted(c["argv"] for c in fleet.sim.calls("stop")) == [["stop", "dvm-d"]]
    # The probe is one `bash -s` per running VM; nothing of it is in the argv.
    probes = fleet.sim.calls("shell")
    assert sorted(c["argv"][3] for c in probes) == ["dvm-a", "dvm-b", "dvm-c", "dvm-d"]
    assert all(c["argv"][4:] == ["/bin/bash", "-p", "-s"] for c in probes)
    # Text output names the reasons.
    r = fleet.ok("stop", "--all", "--inactive")
    assert "dvm: skipping active VM: a (active: tmux dvm-llama.service)" in r.stderr
    assert "0 stopped, 3 skipped, 0 failed" in r.stdout


def test_stop_all_inactive_sees_an_attached_shell(fleet):
    # A login shell on a terminal, like `dvm sh` leaves behind.
    fleet.guest("a", "setsid script -qfc 'bash -i' /dev/null </dev/zero >/dev/null 2>&1 &")

    def shell_on_a_terminal():
        ps = fleet.guest("a", 'ps -u "$(id -u)" -o tty=,comm=')
        return any(f[0] != "?" and f[1] == "bash" for f in (line.split() for line in ps.splitlines()) if len(f) == 2)
    wait_until(shell_on_a_terminal, what="the shell on a terminal to start")
    r = fleet.json("stop", "--all", "--inactive")
    by_vm = {o["vm"]: o for o in r["results"]}
    assert by_vm["a"]["action"] == "skipped" and "shell" in by_vm["a"]["reason"]
    assert [by_vm[n]["action"] for n in "bcd"] == ["stopped"] * 3


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_stop_all_inactive_when_the_probe_fails(fleet):
    # The probe of b cannot run (ssh-level failure); limactl failing outright on c.
    fleet.sim.add_fault(action="fail", subcommand="shell", instance="dvm-b", exit_code=255,
                        stderr="ssh: connect to host 127.0.0.1: Connection refused\n")
    fleet.sim.add_fault(action="fail", subcommand="shell", instance="dvm-c",
                        message="instance \"dvm-c\" is in a bad mood")
    r = fleet.run("--json", "stop", "--all", "--inactive")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    by_vm = {o["vm"]: o for o in out["results"]}
    assert by_vm["b"]["action"] == "failed"
    assert "activity check failed (exit 255)" in by_vm["b"]["reason"]
    assert "Connection refused" in by_vm["b"]["reason"]
    assert by_vm["c"]["action"] == "failed"
    assert "bad mood" in by_vm["c"]["reason"]
    assert by_vm["a"]["action"] == "stopped" and by_vm["d"]["action"] == "stopped"
    st = states(fleet)
    assert (st["dvm-b"], st["dvm-c"]) == ("Running", "Running")
    # --force: a failed check no longer protects the VM, with a warning.
    r = fleet.ok("stop", "--all", "--inactive", "--force")
    assert "activity check failed" in r.stderr and "stopping anyway" in r.stderr
    assert "2 stopped, 0 skipped, 0 failed" in r.stdout
    st = states(fleet)
    assert (st["dvm-b"], st["dvm-c"]) == ("Stopped", "Stopped")


