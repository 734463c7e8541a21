"""Recording stand-ins in the guest: dnf5/rpm, systemctl, hostnamectl, journalctl, curl/wget, package stubs."""

import hashlib
import os

import pytest

from limasim_fixture import requires_sandbox

USES_SANDBOX = True
pytestmark = requires_sandbox


@pytest.fixture(scope="module")
def vm(shared_sim):
    shared_sim.create_instance("vm", running=True)
    shared_sim.configure(unavailable_packages=["no-such-pkg"],
                         package_commands={"mytool": ["mytool"], "svcpkg": {"commands": ["svcd"],
                                                                            "units": ["svcd.service"]}},
                         failing_units=["broken.service"])
    return shared_sim


def g(sim, script, user=None, **kw):
    return sim.guest_run("vm", script, user=user, **kw)


def test_dnf5_install_records_and_stubs(vm):
    r = g(vm, "sudo dnf5 install -y bat helix nodejs git")
    assert r.returncode == 0, r.stderr
    assert b"Complete!" in r.stdout
    r = g(vm, "command -v bat hx git; bat --version; hx --health x; rpm -q bat git")
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "/usr/bin/bat" and lines[1] == "/usr/bin/hx" and lines[2] == "/usr/bin/git"
    assert lines[3].startswith("bat ") and "limasim stub" in lines[3]
    assert lines[4].startswith("bat-") and lines[5].startswith("git-")
    assert not os.path.exists("/usr/bin/hx")  # stubs live in the guest's /usr layer only
    (call,) = [c for c in vm.guest_calls("vm", "hx")]
    assert call["argv"] == ["--health", "x"] and call["user"] == "dev" and call["cwd"] == "/home/dev"
    dnf = vm.guest_calls("vm", "dnf5")
    assert dnf[-1]["argv"] == ["install", "-y", "bat", "helix", "nodejs", "git"] and dnf[-1]["uid"] == 0


def test_dnf5_already_installed_is_a_noop(vm):
    g(vm, "sudo dnf5 install -y tmux", check=True)
    db = open(vm.guest_path("vm", "/var/lib/limasim/rpmdb.json")).read()
    r = g(vm, "sudo dnf5 install -y tmux")
    assert r.returncode == 0 and b"is already installed" in r.stdout and b"Nothing to do." in r.stdout
    assert open(vm.guest_path("vm", "/var/lib/limasim/rpmdb.json")).read() == db


def test_dnf5_unavailable_and_skip(vm):
    r = g(vm, "sudo dnf5 install -y just no-such-pkg")
    assert r.returncode == 1 and b"No match for argument: no-such-pkg" in r.stderr
    assert g(vm, "rpm -q just").returncode == 1
    r = g(vm, "sudo dnf5 install -y --skip-unavailable just no-such-pkg")
    assert r.returncode == 0
    assert g(vm, "rpm -q just").returncode == 0


def test_dnf5_needs_root_and_confirmation(vm):
    r = g(vm, "dnf5 install -y fzf")
    assert r.returncode == 1 and b"superuser privileges" in r.stderr
    r = g(vm, "sudo dnf5 install fzf", stdin=b"")
    assert r.returncode == 1 and b"Operation aborted" in r.stdout
    r = g(vm, "sudo dnf5 install fzf", stdin=b"y\n")
    assert r.returncode == 0


def test_dnf5_extra_package_commands_and_units(vm):
    g(vm, "sudo dnf5 install -y mytool svcpkg", check=True)
    r = g(vm, "mytool run --fast; command -v svcd; systemctl is-enabled svcd")
    assert r.stdout.decode().splitlines() == ["/usr/bin/svcd", "disabled"]
    assert vm.guest_calls("vm", "mytool")[-1]["argv"] == ["run", "--fast"]


def test_dnf5_remove_and_addrepo(vm):
    g(vm, "sudo dnf5 install -y git-delta", check=True)
    assert g(vm, "command -v delta").returncode == 0
    g(vm, "sudo dnf5 remove -y git-delta", check=True)
    assert g(vm, "command -v delta").returncode == 1
    url = "https://download.docker.com/linux/fedora/docker-ce.repo"
    vm.add_download(url, "[docker-ce-stable]\nname=Docker CE Stable\nbaseurl=https://x\n")
    r = g(vm, "sudo dnf5 config-manager addrepo --from-repofile=%s && cat /etc/yum.repos.d/docker-ce.repo" % url)
    assert r.returncode == 0 and b"[docker-ce-stable]" in r.stdout
    r = g(vm, "sudo dnf5 config-manager addrepo --from-repofile=%s" % url)
    assert r.returncode == 1 and b"already exists" in r.stderr
    r = g(vm, "sudo dnf5 config-manager addrepo --from-repofile=https://pkgs.tailscale.com/stable/fedora/tailscale.repo")
    assert r.returncode == 0 and os.path.exists(vm.guest_path("vm", "/etc/yum.repos.d/tailscale.repo"))
    ids = [ln.split()[0] for ln in g(vm, "dnf5 repolist").stdout.decode().splitlines()[1:]]
    assert ids == ["fedora", "updates", "docker-ce-stable", "tailscale"]


def test_zsh_stub_still_runs_shell_code(vm):
    g(vm, "sudo dnf5 install -y zsh", check=True)
    r = g(vm, "zsh -c 'echo $((6*7))'")
    assert r.stdout == b"42\n"


def test_systemctl(vm):
    g(vm, "sudo dnf5 install -y docker-ce tailscale", check=True)
    r = g(vm, "systemctl is-active docker; echo $?; sudo systemctl enable --now docker.service; "
              "systemctl is-active docker; echo $?; systemctl is-enabled docker; systemctl show -p ActiveState --value docker")
    assert r.stdout.decode().split() == ["inactive", "3", "active", "0", "enabled", "active"]
    r = g(vm, "systemctl start tailscaled")
    assert r.returncode == 4 and b"Access denied" in r.stderr
    r = g(vm, "sudo systemctl start nope.service")
    assert r.returncode == 5 and b"Unit nope.service not found." in r.stderr
    r = g(vm, "systemctl is-enabled nope.service")
    assert r.returncode == 1
    g(vm, "sudo tee /etc/systemd/system/broken.service >/dev/null <<< '[Service]'", check=True)
    r = g(vm, "sudo systemctl start broken; systemctl is-failed broken; systemctl is-active broken; echo $?; "
              "sudo systemctl reset-failed broken; systemctl is-active broken")
    assert r.stdout.decode().split() == ["failed", "failed", "3", "inactive"]
    assert vm.guest_calls("vm", "systemctl")[-1]["argv"] == ["is-active", "broken"]


def test_enabled_units_come_back_after_reboot(tmp_path):
    from limasim_fixture import LimaSim
    sim = LimaSim(tmp_path)
    try:
        sim.create_instance("s", running=True)
        sim.guest_run("s", "sudo dnf5 install -y tailscale && sudo systemctl enable --now tailscaled && "
                           "sudo systemctl start sshd", check=True)
        sim.run("stop", "s", record=False)
        sim.start("s")
        r = sim.guest_run("s", "systemctl is-active tailscaled; systemctl is-active docker; rpm -q tailscale")
        assert r.stdout.decode().split()[:2] == ["active", "inactive"]
    finally:
        sim.cleanup()


def test_hostnamectl(vm):
    r = g(vm, "hostnamectl set-hostname app")
    assert r.returncode == 1 and b"Access denied" in r.stderr
    r = g(vm, "sudo hostnamectl set-hostname app && hostname && cat /etc/hostname && sudo -n true && hostnamectl")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert out[:2] == ["app", "app"] and "Static hostname: app" in out[2]
    assert r.stderr == b""
    g(vm, "sudo hostnamectl set-hostname lima-vm", check=True)


def test_journalctl(vm):
    jf = vm.guest_path("vm", "/var/log/limasim/journal/cloudflared.service.log")
    with open(jf, "a") as f:
        f.write("line one\nline two\nline three\n")
    r = g(vm, "sudo journalctl -u cloudflared --no-pager -n 2")
    assert r.stdout == b"line two\nline three\n"
    r = g(vm, "sudo journalctl -u nothing.service --no-pager")
    assert r.stdout == b"-- No entries --\n"
    assert vm.guest_calls("vm", "journalctl")[-2]["argv"] == ["-u", "cloudflared", "--no-pager", "-n", "2"]
    r = g(vm, "journalctl -u cloudflared")
    assert b"Hint" in r.stderr and b"line" not in r.stdout


def test_curl_and_wget_from_fixtures(vm):
    body = os.urandom(10000)
    digest = vm.add_download("https://github.com/x/y/releases/download/v1/tool.tar.gz", body)
    assert digest == hashlib.sha256(body).hexdigest()
    r = g(vm, "cd /tmp && curl -fsSL --retry 3 --proto '=https' --tlsv1.2 -o t.tgz "
              "https://github.com/x/y/releases/download/v1/tool.tar.gz && echo '%s  t.tgz' | sha256sum -c -" % digest)
    assert r.returncode == 0, r.stderr
    r = g(vm, "curl -fsSL https://example.com/nope")
    assert (r.returncode, r.stderr) == (6, b"curl: (6) Could not resolve host: example.com\n")
    r = g(vm, "curl -s https://example.com/nope")
    assert (r.returncode, r.stderr) == (6, b"")
    vm.add_download("https://example.com/missing", b"not found", status=404)
    r = g(vm, "curl -fsS https://example.com/missing")
    assert r.returncode == 22 and b"404" in r.stderr
    r = g(vm, "wget -qO- https://github.com/x/y/releases/download/v1/tool.tar.gz | sha256sum")
    assert r.stdout.split()[0].decode() == digest
    r = g(vm, "cd /tmp && wget https://nowhere.invalid/f")
    assert r.returncode == 4
    assert vm.guest_calls("vm", "curl")[0]["argv"][0] == "-fsSL"


def test_standins_first_on_sudo_path(vm):
    r = g(vm, "sudo sh -c 'for c in dnf5 curl systemctl; do command -v $c; done'")
    assert r.stdout.decode().split() == ["/.limasim/guest/bin/dnf5", "/.limasim/guest/bin/curl",
                                         "/.limasim/guest/bin/systemctl"]
