"""The guest sandbox: user, real sudo, ACLs, nested bwrap, tmpfs /run, process lifetime, provisioning, copy."""

import os
import shutil

import pytest

from limasim_fixture import DEFAULT_YAML, LimaSim, requires_sandbox, wait_until

USES_SANDBOX = True
pytestmark = requires_sandbox

PROVISION_YAML = DEFAULT_YAML + """\
provision:
- mode: system
  script: |
    #!/bin/bash
    echo "system for {{.User}} at $(date +%s)" >> /var/log/prov-system.txt
- mode: user
  script: |
    #!/bin/bash
    mkdir -p ~/code && id -un > ~/code/whoami
- mode: system
  script: |
    #!/bin/bash
    echo provision-output-marker
    exit 3
- mode: data
  path: /etc/motd.d/limasim
  content: "hello {{.Name}}\\n"
  permissions: "600"
"""


@pytest.fixture(scope="module")
def vm(shared_sim):
    shared_sim.create_instance("vm", PROVISION_YAML, running=True)
    return shared_sim


def g(sim, script, user=None, **kw):
    return sim.guest_run("vm", script, user=user, **kw)


def test_guest_user_and_home(vm):
    r = g(vm, "id -un; id -u; stat -c %a ~; getent passwd dev | cut -d: -f6,7")
    assert r.stdout.decode().split() == ["dev", "1000", "700", "/home/dev:/bin/bash"]
    # host users are not in the guest image
    assert b"cloudsdk" not in open(vm.guest_path("vm", "/etc/passwd"), "rb").read()


def test_real_sudo(vm):
    r = g(vm, "sudo -n true && sudo -n id -u && grep -c NoNewPrivs:.*0 /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == [b"0", b"1"]
    assert r.stderr == b""  # no "unable to resolve host"
    r = g(vm, "sudo -n useradd -m -r -U agent && id agent && sudo -n -u agent id -un")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == b"agent"


def test_setfacl_on_home_and_code_dir(vm):
    r = g(vm, "mkdir -p ~/code/p && setfacl -m u:nobody:--x ~ && setfacl -m u:nobody:rwx -m d:u:nobody:rwx ~/code/p "
              "&& getfacl -p ~/code/p | grep -E '^(user|default:user):nobody'")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["user:nobody:rwx", "default:user:nobody:rwx"]


def test_nested_bwrap_as_guest_user(vm):
    r = g(vm, "bwrap --ro-bind / / --dev /dev --unshare-pid --unshare-ipc --unshare-uts --tmpfs /tmp "
              "--hostname inner -- sh -c 'hostname; id -un'")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"inner\ndev\n"


def test_git_gpg_ssh_keygen(vm):
    r = g(vm, "cd /tmp && rm -rf repo && git init -q repo && cd repo && git -c user.name=a -c user.email=a@b "
              "commit -q --allow-empty -m x && git log --oneline | wc -l && "
              "ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/k_test <<< y >/dev/null && test -f ~/.ssh/k_test.pub && "
              "gpg --batch --quiet --passphrase '' --quick-gen-key 't <t@x>' ed25519 sign 1y 2>/dev/null && "
              "gpg --list-keys --with-colons | grep -c ^pub")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [b"1", b"1"]


def test_namespaces_and_hostname(vm):
    r = g(vm, "hostname; ps -e -o pid= | wc -l; cat /proc/1/cmdline | tr '\\0' ' '")
    host, count, init = r.stdout.decode().splitlines()
    assert host == "lima-vm"
    assert int(count) < 20  # own pid namespace
    assert "bwrap" in init
    assert open("/etc/hostname").read() != "lima-vm\n"


def test_usr_is_private_and_host_untouched(vm):
    r = g(vm, "sudo -n touch /usr/bin/limasim-probe-file && ls /usr/bin/limasim-probe-file && "
              "touch /usr/bin/x 2>/dev/null || echo denied-for-user")
    assert r.stdout.splitlines() == [b"/usr/bin/limasim-probe-file", b"denied-for-user"]
    assert not os.path.exists("/usr/bin/limasim-probe-file")
    assert os.path.exists(vm.guest_path("vm", "/usr/bin/limasim-probe-file"))
    r = g(vm, "sudo -n touch /usr/local/bin/mine && ls /usr/local/bin")
    assert b"mine" in r.stdout and not os.path.exists("/usr/local/bin/mine")
    assert os.path.exists(vm.guest_path("vm", "/usr/local/bin/mine"))


def test_provisioning(vm):
    assert open(vm.guest_path("vm", "/var/log/prov-system.txt")).read().startswith("system for dev at ")
    assert open(vm.guest_path("vm", "/home/dev/code/whoami")).read() == "dev\n"
    log = open(vm.guest_path("vm", "/var/log/cloud-init-output.log")).read()
    assert "provision-output-marker" in log and "Failed to execute" in log
    motd = vm.guest_path("vm", "/etc/motd.d/limasim")
    assert open(motd).read() == "hello vm\n" and oct(os.stat(motd).st_mode & 0o777) == "0o600"
    ha = open(os.path.join(vm.instance_dir("vm"), "ha.stderr.log")).read()
    assert "failed with exit code 3" in ha


def test_guest_path_for_tmpfs(vm):
    g(vm, "echo x > /tmp/tmpfile")
    assert open(vm.guest_path("vm", "/tmp/tmpfile")).read() == "x\n"


def test_copy_in_and_out(vm, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.sh").write_text("#!/bin/sh\n")
    os.chmod(src / "sub" / "b.sh", 0o755)
    os.chmod(src / "a.txt", 0o640)
    r = vm.run("copy", str(src / "a.txt"), "vm:a.txt")
    assert r.returncode == 0, r.stderr
    r = vm.run("copy", str(src), "vm:/home/dev/")
    assert r.returncode == 1 and b"not a regular file" in r.stderr
    r = vm.run("copy", "-r", str(src), "vm:/home/dev/")
    assert r.returncode == 0, r.stderr
    out = g(vm, "stat -c '%U:%G %a %n' ~/a.txt ~/src ~/src/sub/b.sh").stdout.decode().splitlines()
    assert out == ["dev:dev 640 /home/dev/a.txt", "dev:dev 755 /home/dev/src", "dev:dev 755 /home/dev/src/sub/b.sh"]
    dest = tmp_path / "back"
    dest.mkdir()
    r = vm.run("copy", "-r", "vm:src", "vm:a.txt", str(dest))
    assert r.returncode == 0, r.stderr
    assert (dest / "a.txt").read_text() == "A" and (dest / "src" / "sub" / "b.sh").exists()
    r = vm.run("copy", "vm:/etc/shadow", str(dest))
    assert r.returncode == 1 and b"Permission denied" in r.stderr
    r = vm.run("copy", str(src / "a.txt"), "vm:/root/")
    assert r.returncode == 1
    # Only the first ':' splits instance from path (upstream/pkg/copytool/copytool.go:136).
    r = vm.run("copy", "vm:a:b", str(dest))
    assert r.returncode == 1 and b"scp: a:b: No such file or directory" in r.stderr
    r = vm.run("copy", "--backend=rsync", str(src / "a.txt"), "vm:a.txt")
    assert r.returncode == 1


def test_run_is_cleared_across_restart_and_processes_die_at_stop(tmp_path):
    sim = LimaSim(tmp_path)
    try:
        sim.create_instance("r", running=True)
        r = sim.run("shell", "r", "sh", "-c",
                    "sudo -n touch /run/marker /tmp/marker /var/tmp/keep; echo state > ~/keep; "
                    "setsid bash -c 'exec -a tmux sleep 600' </dev/null >/dev/null 2>&1 & "
                    "nohup sleep 601 >/dev/null 2>&1 &")
        assert r.returncode == 0

        def both_started():
            out = sim.guest_run("r", "pgrep -u dev -a -f '^tmux'; pgrep -u dev -x sleep | wc -l").stdout
            return b"tmux" in out and out.split()[-1] == b"2"
        wait_until(both_started, what="the two background processes to start")
        guest_procs = [p for p in sim.processes()]
        assert sim.run("stop", "r").returncode == 0
        assert not any(os.path.exists("/proc/%d" % p) and _alive(p) for p in guest_procs)
        assert sim.run("start", "r").returncode == 0
        r = sim.guest_run("r", "ls /run/marker /tmp/marker 2>&1; ls /var/tmp/keep; cat ~/keep; pgrep -f '^tmux' || echo none")
        out = r.stdout.decode()
        assert "/run/marker': No such file" in out and "/tmp/marker': No such file" in out
        assert "/var/tmp/keep" in out and "state" in out and out.strip().endswith("none")
        assert sim.run("stop", "-f", "r").returncode == 0
        assert sim.wait_no_processes() == []
    finally:
        sim.cleanup()


def _alive(pid):
    try:
        st = open("/proc/%d/stat" % pid).read()
        return st[st.rfind(")") + 2] not in "ZX"
    except OSError:
        return False


def test_deleting_lima_home_leaves_no_process(tmp_path):
    sim = LimaSim(tmp_path)
    sim.create_instance("d", running=True)
    sim.run("shell", "d", "sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &")
    assert len(sim.processes()) >= 3
    shutil.rmtree(sim.home, ignore_errors=True)
    assert sim.wait_no_processes(timeout=10) == []
    sim.cleanup()


def test_delete_force_running(tmp_path):
    sim = LimaSim(tmp_path)
    try:
        sim.create_instance("d", running=True)
        assert sim.run("delete", "-f", "d").returncode == 0
        assert sim.wait_no_processes() == []
        assert not os.path.exists(sim.instance_dir("d"))
    finally:
        sim.cleanup()


def test_failing_provision_does_not_fail_start(tmp_path):
    sim = LimaSim(tmp_path)
    try:
        bad = DEFAULT_YAML + "provision:\n- mode: system\n  script: exit 1\n"
        r = sim.run("--tty=false", "create", "--name", "p", "-", stdin=bad)
        assert r.returncode == 0
        r = sim.run("--tty=false", "start", "p")
        assert r.returncode == 0 and b"READY" in r.stderr
    finally:
        sim.cleanup()


def test_copy_between_instances(vm):
    vm.create_instance("vm2", running=True)
    try:
        g(vm, "echo between > ~/between.txt", check=True)
        r = vm.run("copy", "vm:between.txt", "vm2:/tmp/")
        assert r.returncode == 0, r.stderr
        r = vm.guest_run("vm2", "stat -c '%U %a' /tmp/between.txt; cat /tmp/between.txt")
        assert r.stdout == b"dev 644\nbetween\n"
    finally:
        vm.run("delete", "-f", "vm2", record=False)


def test_stop_force_during_a_shell_call(tmp_path):
    import subprocess
    sim = LimaSim(tmp_path)
    try:
        sim.create_instance("s", running=True)
        p = subprocess.Popen([sim.limactl, "shell", "s", "sleep", "600"], env=sim.env(), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until(lambda: sim.guest_run("s", "pgrep -x -f 'sleep 600'").returncode == 0,
                   what="the shell call's command to run in the guest")
        assert sim.run("stop", "-f", "s").returncode == 0
        p.communicate(timeout=10)
        assert p.returncode == 255  # the "connection" died
        assert sim.wait_no_processes() == []
    finally:
        sim.cleanup()


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script(1) is needed for a terminal")
def test_terminal_session_gets_a_guest_pty(vm):
    import subprocess
    cmd = "%s shell vm sh -c 'tty; test -t 0 && echo TTY; exit 3'" % vm.limactl
    r = subprocess.run(["script", "-qefc", cmd, "/dev/null"], env=vm.env(TERM="xterm"), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = r.stdout.replace(b"\r\n", b"\n")
    assert r.returncode == 3
    assert out.startswith(b"/dev/pts/") and b"TTY\n" in out


@pytest.mark.skipif(not os.path.exists("/usr/bin/zsh"), reason="the host has no /usr/bin/zsh (the guest's /usr is the host's)")
def test_zsh_login_shell_reads_etc_profile(vm):
    """Fedora's /etc/zprofile makes zsh login shells read /etc/profile (and /etc/profile.d), so a
    user whose login shell is zsh finds the stand-ins too. The guest runs the host's zsh (e.g.
    Debian's, which reads /etc/zsh/zprofile), so the boot script provides both files."""
    g(vm, "sudo usermod -s /usr/bin/zsh dev", check=True)
    try:
        r = vm.run("shell", "--workdir", "/", "vm", "sh", "-c", "for c in rpm dnf5 curl systemctl; do command -v $c; done")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().split() == ["/.limasim/guest/bin/" + c for c in ("rpm", "dnf5", "curl", "systemctl")]
    finally:
        g(vm, "sudo usermod -s /bin/bash dev", check=True)
