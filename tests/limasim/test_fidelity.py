"""Fidelity against real Lima: the divergences of shared/spec/lima-audit.md §5 that could hide dvm
bugs (S1 port validation, S3 vz/arch, S4 copy backends, S5 _config layers, protected).
Every expectation cites the Lima source it follows (`upstream/…` = shared/lima/upstream/)."""

import json
import os

import pytest

from limasim_fixture import DEFAULT_YAML, LimaSim, log_text, requires_sandbox

NATIVE = "x86_64" if os.uname().machine in ("x86_64", "amd64") else "aarch64"
FOREIGN = "aarch64" if NATIVE == "x86_64" else "x86_64"


def store_mod():
    from limasim import store
    return store


# --------------------------------------------------------------------------------------------
# S1: port rules (upstream/pkg/limayaml/validate.go:307-389, validatePort :651-662)

PORT_CASES = [
    # (id, rule, expected errors (each must appear), or [] for valid)
    ("validate.go:320 guestPort 22", {"guestPort": 22, "hostPort": 8022},
     ["field `portForwards[0].guestPort` must not be 22",
      "field `portForwards[0].guestPortRange[0]` must not be 22",
      "field `portForwards[0].guestPortRange[1]` must not be 22"]),
    ("validate.go:331 hostPort 22 (defaults.go:1037 range from hostPort)", {"guestPort": 8080, "hostPort": 22},
     ["field `portForwards[0].hostPort` must not be 22",
      "field `portForwards[0].hostPortRange[0]` must not be 22",
      "field `portForwards[0].hostPortRange[1]` must not be 22"]),
    ("validate.go:335-339 ignore rules are not exempt", {"guestPort": 22, "ignore": True},
     ["field `portForwards[0].guestPort` must not be 22", "field `portForwards[0].hostPortRange[0]` must not be 22"]),
    ("validate.go:335 guestPortRange end 22", {"guestPortRange": [10, 22], "hostPortRange": [1010, 1022]},
     ["field `portForwards[0].guestPortRange[1]` must not be 22"]),
    ("validate.go:338 hostPortRange start 22", {"guestPortRange": [1022, 1030], "hostPortRange": [22, 30]},
     ["field `portForwards[0].hostPortRange[0]` must not be 22"]),
    ("validate.go:335 a range containing 22 is fine", {"guestPortRange": [1, 65535], "ignore": True}, []),
    ("validate.go:659 hostPort 65536 (validate_test.go:427)", {"guestPort": 8080, "hostPort": 65536},
     ["field `portForwards[0].hostPort` must be < 65536"]),
    ("validate.go:653 negative", {"guestPort": -1, "hostPort": 8080},
     ["field `portForwards[0].guestPortRange[0]` must be > 0"]),
    ("validate.go:344 reversed guest range", {"guestPortRange": [90, 80], "hostPortRange": [90, 80]},
     ["field `portForwards[0].guestPortRange[1]` must be greater than or equal to field "
      "`portForwards[0].guestPortRange[0]`"]),
    ("validate.go:367 range sizes differ", {"guestPortRange": [80, 90], "hostPortRange": [8080, 8081]},
     ["field `portForwards[0].hostPortRange` must specify the same number of ports as field "
      "`portForwards[0].guestPortRange`"]),
    ("validate.go:315 guestPort vs range", {"guestPort": 81, "guestPortRange": [80, 80]},
     ["field `portForwards[0].guestPort` must match field `portForwards[0].guestPortRange[0]`"]),
    ("validate.go:309 guestIPMustBeZero only with 0.0.0.0",
     {"guestIP": "127.0.0.1", "guestIPMustBeZero": True, "guestPortRange": [1, 65535], "ignore": True},
     ["field `portForwards[0].guestIPMustBeZero` can only be true when field `portForwards[0].guestIP` is 0.0.0.0"]),
    ("defaults.go:996 guestIPMustBeZero alone means 0.0.0.0",
     {"guestIPMustBeZero": True, "guestPortRange": [1, 65535], "ignore": True}, []),
    ("validate.go:377 proto", {"guestPort": 80, "hostPort": 8080, "proto": "sctp"},
     ["field `portForwards[0].proto` must be `tcp`, `udp`, or `any`"]),
    ("validate.go:353 guestSocket relative", {"guestSocket": "run/x.sock", "hostSocket": "/tmp/x.sock"},
     ["field `portForwards[0].guestSocket` must be an absolute path, but is `run/x.sock`"]),
    ("validate.go:356 guestSocket to a port range", {"guestSocket": "/run/x.sock", "hostPortRange": [8000, 8001]},
     ["field `portForwards[0].guestSocket` can only be mapped to a single port or socket. not a range"]),
    ("validate.go:381 reverse needs sockets", {"guestPort": 80, "hostPort": 8080, "reverse": True},
     ["field `portForwards[0].reverse` must be false"]),
    ("validate_test.go:381 sockets", {"guestSocket": "/tmp/x", "hostSocket": "/tmp"}, []),
    ("dvm catch-all ignore rules", {"guestIP": "0.0.0.0", "guestIPMustBeZero": True, "guestPortRange": [1, 65535],
                                    "proto": "any", "ignore": True}, []),
    ("dvm static rule", {"guestPort": 3000, "hostPort": 3000, "hostIP": "127.0.0.1", "proto": "tcp",
                         "static": True}, []),
]


@pytest.mark.parametrize("rule,expected", [pytest.param(r, e, id=i) for i, r, e in PORT_CASES])
def test_port_rule_validation_table(rule, expected):
    errs = store_mod().validate_port_forwards([rule])
    for e in expected:
        assert e in errs
    if not expected:
        assert errs == []


def test_validate_multiple_errors_port_part():
    # upstream/pkg/limayaml/validate_test.go:419-445 feeds these two rules; its expected text stops
    # early (a provision error returns, validate.go:220), so here only the port errors are checked.
    errs = store_mod().validate_port_forwards([{"guestPort": 22, "hostPort": 2222},
                                                {"guestPort": 8080, "hostPort": 65536}])
    assert "field `portForwards[0].guestPort` must not be 22" in errs
    assert "field `portForwards[1].hostPort` must be < 65536" in errs


def test_create_refuses_host_port_22_and_leaves_nothing(limasim):
    # lima-audit.md BUG-3: dvm's `ports = ["22:8080"]`; Lima refuses it before writing anything
    # (instance.Create validates first).
    y = DEFAULT_YAML + "portForwards:\n- {guestPort: 8080, hostPort: 22, hostIP: 127.0.0.1, proto: tcp, static: true}\n"
    r = limasim.run("--tty=false", "create", "--name", "p22", "-", stdin=y)
    assert r.returncode == 1
    assert "field `portForwards[0].hostPort` must not be 22" in log_text(r.stderr)
    assert not os.path.exists(limasim.instance_dir("p22"))


def test_edit_refuses_port_22_and_keeps_the_file(limasim, tmp_path):
    limasim.create_instance("e", running=False)
    before = open(os.path.join(limasim.instance_dir("e"), "lima.yaml")).read()
    r = limasim.run("edit", "--tty=false", "--set",
                    '.portForwards = [{"guestPortRange": [1, 22], "hostPortRange": [1, 22], "ignore": true}]', "e",
                    cwd=str(tmp_path))
    assert r.returncode == 1
    assert "field `portForwards[0].guestPortRange[1]` must not be 22" in log_text(r.stderr)
    assert (tmp_path / "lima.REJECTED.yaml").exists()  # upstream/cmd/limactl/edit.go:139, 225-233
    assert open(os.path.join(limasim.instance_dir("e"), "lima.yaml")).read() == before


# --------------------------------------------------------------------------------------------
# S3: vz accepts only the host's arch, checked in Prepare after the instance directory exists


def vz_yaml(arch):
    return DEFAULT_YAML + "vmType: vz\narch: %s\n" % arch


def test_vz_foreign_arch_create_leaves_a_stopped_instance_that_cannot_start(limasim, tmp_path):
    limasim.configure(host_os="darwin", host_arch=NATIVE)
    r = limasim.run("--tty=false", "create", "--name", "x86", "-", stdin=vz_yaml(FOREIGN))
    # upstream/pkg/driver/vz/vz_driver_darwin.go:301-303 via Prepare (upstream/pkg/instance/start.go:81),
    # which createAction runs after instance.Create (upstream/cmd/limactl/start.go:571-579)
    assert r.returncode == 1
    assert "unsupported arch: `%s`" % FOREIGN in log_text(r.stderr)
    (inst,) = limasim.list_json()
    assert inst["name"] == "x86" and inst["status"] == "Stopped" and inst["vmType"] == "vz"
    r = limasim.run("--tty=false", "start", "x86")
    assert r.returncode == 1 and "unsupported arch: `%s`" % FOREIGN in log_text(r.stderr)
    assert limasim.status("x86") == "Stopped"
    # edit runs the driver's Validate too (upstream/cmd/limactl/edit.go:150-152)
    r = limasim.run("edit", "--tty=false", "--set", ".cpus = 2", "x86", cwd=str(tmp_path))
    assert r.returncode == 1 and "unsupported arch" in log_text(r.stderr)
    # switching the driver is the way out
    assert limasim.run("edit", "--tty=false", "--set", '.vmType = "qemu"', "x86",
                       cwd=str(tmp_path)).returncode == 0
    assert limasim.run("--tty=false", "start", "x86").returncode == 0
    assert limasim.status("x86") == "Running"


def test_vz_native_arch_and_default_driver_on_a_mac(limasim):
    limasim.configure(host_os="darwin", host_arch=NATIVE)
    limasim.create_instance("nat", vz_yaml(NATIVE), running=False)
    # no vmType: vz for the native arch, qemu for another one (upstream/pkg/driverutil/vm.go)
    limasim.create_instance("dflt", DEFAULT_YAML, running=False)
    limasim.create_instance("emu", DEFAULT_YAML + "arch: %s\n" % FOREIGN, running=False)
    got = {i["name"]: (i["vmType"], i["HostOS"], i["HostArch"]) for i in limasim.list_json()}
    assert got == {"nat": ("vz", "darwin", NATIVE), "dflt": ("vz", "darwin", NATIVE),
                   "emu": ("qemu", "darwin", NATIVE)}


def test_vz_is_not_a_driver_on_linux(limasim):
    # the default host is Linux: only qemu is registered (upstream/pkg/driverutil/vm.go
    # validateConfigAgainstDriver), nothing is written
    r = limasim.run("--tty=false", "create", "--name", "v", "-", stdin=vz_yaml(NATIVE))
    assert r.returncode == 1 and 'vmType "vz" is not a registered driver' in log_text(r.stderr)
    assert not os.path.exists(limasim.instance_dir("v"))


# --------------------------------------------------------------------------------------------
# S5: $LIMA_HOME/_config/{default,override,base}.yaml


def write_config(sim, name, text):
    d = os.path.join(sim.home, "_config")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def test_default_and_override_are_merged_at_every_load_but_not_stored(limasim, tmp_path):
    y = DEFAULT_YAML + "portForwards:\n- {guestPort: 3000, hostPort: 3000}\n"
    limasim.create_instance("a", y, running=False)
    stored = open(os.path.join(limasim.instance_dir("a"), "lima.yaml")).read()
    hostdir = tmp_path / "shared"
    hostdir.mkdir()
    write_config(limasim, "default.yaml", "mounts:\n- location: %s\n"
                 "portForwards:\n- {guestPort: 5000, hostPort: 5000}\nssh: {forwardX11: true}\n" % hostdir)
    write_config(limasim, "override.yaml", "portForwards:\n- {guestPort: 4000, hostPort: 4000}\n"
                 "ssh: {forwardAgent: true}\ncpus: 3\n")
    cfg = limasim.list_json()[0]["config"]
    # o before y before d (upstream/pkg/limayaml/defaults.go:603)
    assert [r["guestPort"] for r in cfg["portForwards"]] == [4000, 3000, 5000]
    # mounts d, y, o (defaults.go:712-714)
    assert [m["location"] for m in cfg["mounts"]] == [str(hostdir)]
    # scalars: o overrides y (ssh.forwardAgent false in lima.yaml), d fills gaps (defaults.go:381-409)
    assert cfg["ssh"]["forwardAgent"] is True and cfg["ssh"]["forwardX11"] is True and cfg["cpus"] == 3
    assert limasim.list_json()[0]["cpus"] == 3
    # Lima keeps the files apart: lima.yaml is untouched, also by an edit
    assert open(os.path.join(limasim.instance_dir("a"), "lima.yaml")).read() == stored
    assert limasim.run("edit", "--tty=false", "--set", ".memory = \"2GiB\"", "a", cwd=str(tmp_path)).returncode == 0
    edited = limasim.lima_yaml("a")
    assert edited["cpus"] == 1 and edited["ssh"] == {"loadDotSSHPubKeys": False, "forwardAgent": False}
    assert [r["guestPort"] for r in edited["portForwards"]] == [3000] and edited["mounts"] == []


def test_override_rules_are_validated_with_the_instance(limasim):
    # load.go:40-75 runs before Validate: a port-22 rule in override.yaml breaks every create
    write_config(limasim, "override.yaml", "portForwards:\n- {guestPort: 8080, hostPort: 22}\n")
    r = limasim.run("--tty=false", "create", "--name", "o", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1 and "field `portForwards[0].hostPort` must not be 22" in log_text(r.stderr)


def test_base_yaml_is_embedded_at_create(limasim, tmp_path):
    # upstream/pkg/limatmpl/embed.go:49-66: prepended to the bases, so it lands in lima.yaml;
    # --mount-none (applied after embedding) still removes its mounts
    write_config(limasim, "base.yaml", "env: {FROM_BASE: '1'}\nmounts:\n- location: /tmp\ncpus: 4\n")
    limasim.create_instance("b", DEFAULT_YAML, running=False, args=("--mount-none",))
    stored = limasim.lima_yaml("b")
    assert stored["env"] == {"FROM_BASE": "1"} and stored["cpus"] == 1 and not stored.get("mounts")
    assert "base" not in stored


# --------------------------------------------------------------------------------------------
# protected (upstream/pkg/instance/delete.go:18-23, cmd/limactl/delete.go:54-55, protect.go)


def test_protected_instance(limasim):
    limasim.create_instance("p", running=False)
    assert limasim.run("protect", "p").returncode == 0
    r = limasim.run("protect", "p")
    assert r.returncode == 0 and 'Instance "p" is already protected. Skipping.' in log_text(r.stderr)
    assert limasim.list_json()[0]["protected"] is True
    r = limasim.run("delete", "--force", "p")
    assert r.returncode == 1
    assert ('failed to delete instance "p": instance is protected to prohibit accidental removal '
            "(Hint: use `limactl unprotect`)") in log_text(r.stderr)
    assert os.path.isdir(limasim.instance_dir("p"))
    assert limasim.run("unprotect", "p").returncode == 0
    r = limasim.run("unprotect", "p")
    assert r.returncode == 0 and "isn't protected. Skipping." in log_text(r.stderr)
    assert limasim.list_json()[0]["protected"] is False
    r = limasim.run("protect", "p", "nope")
    assert r.returncode == 1 and 'failed to inspect instance "nope"' in log_text(r.stderr)


# --------------------------------------------------------------------------------------------
# S6: an unparsable lima.yaml leaves the status unknown (upstream/pkg/store/instance.go:51-57)


def test_unparsable_lima_yaml_has_no_status(limasim):
    limasim.create_instance("u", running=False)
    with open(os.path.join(limasim.instance_dir("u"), "lima.yaml"), "a") as f:
        f.write("cpus: [unclosed\n")
    (inst,) = limasim.list_json()
    assert inst["status"] == "" and inst["errors"]
    r = limasim.run("--tty=false", "start", "u")  # upstream/cmd/limactl/start.go:598-600
    assert r.returncode == 1 and "errors inspecting instance" in log_text(r.stderr)


# --------------------------------------------------------------------------------------------
# S4: copy backends (upstream/pkg/copytool/)


def test_rsync_slash_rewrite_table():
    from limasim.cmd_shell import rsync_slash_rewrite as rw
    # upstream/pkg/copytool/rsync.go:149-169
    assert rw([(None, "d"), ("vm", "t")], True) == [(None, "d/"), ("vm", "t/")]
    assert rw([(None, "d/"), ("vm", "t")], True) == [(None, "d"), ("vm", "t/")]
    assert rw([(None, "d"), ("vm", "t/")], True) == [(None, "d"), ("vm", "t/")]
    assert rw([("vm", "s/"), (None, "d")], True) == [("vm", "s/"), (None, "d/")]
    assert rw([("vm", ""), (None, "d")], True) == [("vm", "/"), (None, "d/")]
    assert rw([(None, "d"), ("vm", "t")], False) == [(None, "d"), ("vm", "t")]


@pytest.fixture(scope="module")
def cpvm(tmp_path_factory):
    sim = LimaSim(tmp_path_factory.mktemp("cp"))
    try:
        sim.create_instance("vm", running=True)
        yield sim
    finally:
        sim.cleanup()


def tree(sim, path):
    r = sim.guest_run("vm", "cd %s && find . -mindepth 1 | sort" % path, check=True)
    return r.stdout.decode().split()


def src_dir(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    os.symlink("a.txt", src / "link")
    return src


@requires_sandbox
def test_copy_auto_is_scp_without_rsync(cpvm, tmp_path):
    # copytool.go:70-96: no host rsync (or none in the guest) -> scp: DIR lands inside TARGET
    cpvm.configure(host_rsync=False)
    src = src_dir(tmp_path)
    cpvm.guest_run("vm", "rm -rf t1 && mkdir t1", check=True)
    r = cpvm.run("copy", "-r", str(src), "vm:t1")
    assert r.returncode == 0, r.stderr
    assert "./src/a.txt" in tree(cpvm, "t1")
    cpvm.configure(host_rsync=True)  # host has it, the guest does not (a Fedora image without rsync)
    cpvm.guest_run("vm", "rm -rf t1 && mkdir t1", check=True)
    assert cpvm.run("copy", "-r", str(src), "vm:t1").returncode == 0
    assert "./src/a.txt" in tree(cpvm, "t1")
    r = cpvm.run("copy", "--backend=rsync", "-r", str(src), "vm:t1")
    assert r.returncode == 1 and "rsync not available on guest(s)" in log_text(r.stderr)
    cpvm.configure(host_rsync=False)
    r = cpvm.run("copy", "--backend=rsync", "-r", str(src), "vm:t1")
    assert r.returncode == 1 and 'rsync not found on host: exec: "rsync"' in log_text(r.stderr)
    r = cpvm.run("copy", "--backend=ftp", str(src), "vm:t1")
    assert r.returncode == 1 and "invalid backend `ftp`, must be one of: scp, rsync, auto" in log_text(r.stderr)


@requires_sandbox
def test_copy_auto_uses_rsync_when_host_and_guest_have_it(cpvm, tmp_path):
    cpvm.configure(host_rsync=True)
    cpvm.guest_run("vm", "sudo -n dnf install -y rsync >/dev/null && command -v rsync", check=True)
    src = src_dir(tmp_path)
    cpvm.guest_run("vm", "rm -rf t2 && mkdir t2 && echo old > t2/keep", check=True)
    # -r: rsync.go:149-169 makes it `rsync -a -r SRC/ host:t2/` -> the contents merge INTO t2
    r = cpvm.run("copy", "-r", str(src), "vm:t2")
    assert r.returncode == 0, r.stderr
    assert tree(cpvm, "t2") == ["./a.txt", "./keep", "./link", "./sub", "./sub/b.txt"]
    assert cpvm.guest_run("vm", "readlink t2/link && stat -c %U t2/a.txt", check=True).stdout.decode().split() \
        == ["a.txt", "dev"]  # -a keeps symlinks; the guest end runs as the guest user
    # a local source ending in '/' drops it: the directory itself is copied
    r = cpvm.run("copy", "-r", str(src) + "/", "vm:t2")
    assert r.returncode == 0, r.stderr
    assert "./src/sub/b.txt" in tree(cpvm, "t2")
    # guest -> host, into an existing directory: contents again
    back = tmp_path / "back"
    back.mkdir()
    r = cpvm.run("copy", "-r", "vm:t2/sub", str(back))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(back)) == ["b.txt"]
    # `-r FILE`: the rewrite turns it into FILE/, which rsync refuses (exit 23)
    r = cpvm.run("copy", "-r", str(src / "a.txt"), "vm:t2")
    assert r.returncode == 23 and b"Not a directory" in r.stderr
    # without -r no rewrite: plain rsync rules (a file into an existing directory)
    r = cpvm.run("copy", str(src / "a.txt"), "vm:t2/sub")
    assert r.returncode == 0 and "./sub/a.txt" in tree(cpvm, "t2")
    r = cpvm.run("copy", "vm:/etc/shadow", str(back))
    assert r.returncode == 23 and b"Permission denied" in r.stderr
    # rsync creates only the last directory of the destination (exit 11: error in file IO)
    r = cpvm.run("copy", "-r", str(src), "vm:no/such/dir")
    assert r.returncode == 11 and b"mkdir" in r.stderr and b"No such file or directory" in r.stderr


@requires_sandbox
def test_copy_first_colon_and_double_dash(cpvm, tmp_path):
    cpvm.configure(host_rsync=False)
    f = tmp_path / "-dash.txt"
    f.write_text("D")
    # only the first ':' separates the instance (upstream/pkg/copytool/copytool.go:136)
    r = cpvm.run("copy", str(f), "vm:with:colon.txt")
    assert r.returncode == 0, r.stderr
    assert cpvm.guest_run("vm", "cat with:colon.txt", check=True).stdout == b"D"
    # interspersed flag parsing (upstream/cmd/limactl/copy.go:43-56): '-dash.txt' is a flag ...
    r = cpvm.run("copy", "-dash.txt", "vm:", cwd=str(tmp_path))
    assert r.returncode == 1 and "unknown shorthand flag: 'd' in -dash.txt" in log_text(r.stderr)
    # ... unless `--` ends the flags, also when the flags come first
    r = cpvm.run("copy", "-v", "--", "-dash.txt", "vm:", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert cpvm.guest_run("vm", "cat ./-dash.txt", check=True).stdout == b"D"


@requires_sandbox
def test_running_instance_uses_merged_mounts(tmp_path):
    sim = LimaSim(tmp_path)
    try:
        shared = tmp_path / "hostshare"
        shared.mkdir()
        (shared / "f").write_text("host")
        write_config(sim, "default.yaml", "mounts:\n- location: %s\n" % shared)
        sim.create_instance("m", running=True)
        assert json.loads(sim.run("list", "--json", "m").stdout)["config"]["mounts"][0]["location"] == str(shared)
        # (as guest root: pytest's tmp dirs are private to the host's root)
        assert sim.guest_run("m", "cat %s/f" % shared, user="root", check=True).stdout == b"host"
    finally:
        sim.cleanup()
