"""dvm against Lima as Lima's code behaves (issue 11, shared/spec/lima-audit.md): the audit's
bugs stay fixed, the effective instance config (with $LIMA_HOME/_config merged in) is repaired or
refused, create-only changes are reported, protected instances are left alone, and limactl gets
the environment it needs and nothing secret."""

import json
import os
import subprocess

import pytest
import yaml

from conftest import DVM, shared_env

APP = 'baseline = false\nports = ["127.0.0.1:18091:3000", {host = 18092, guest = 53, proto = "udp"}]\n'


def limactl(env, *args, stdin=None):
    return env.sim.run(*args, stdin=stdin, record=False)


def effective(env, name="dvm-app"):
    return next(i for i in env.sim.list_json() if i["name"] == name)["config"]


# --- refused before any limactl call ---------------------------------------------------------


@pytest.mark.parametrize("rules, where, rule", [
    # upstream/pkg/limayaml/validate.go:651-659: 22 is refused in every port field.
    ('["22:8080"]', "ports[0]", "host port 22 is refused"),
    ('[{host = 8022, guest = 22}]', "ports[0].guest", "guest port 22 is refused"),
    # upstream/pkg/portfwd/forward.go:100-131: the first rule for a guest port wins.
    ('["3000:3000", "0.0.0.0:8080:3000"]', "ports[1]", "guest port 3000/tcp is already forwarded by ports[0]"),
])
def test_port_rules_lima_cannot_honour_are_config_errors(dvm, rules, where, rule):
    path = dvm.vm("app", f"ports = {rules}\n")
    for command in (("plan", "app"), ("sync", "app")):
        r = dvm.run(*command)
        assert r.returncode == 2, r.stderr
        assert f"{path}:1:" in r.stderr and f"{where}: " in r.stderr and rule in r.stderr, r.stderr
    assert dvm.sim.calls() == []


def test_tcp_and_udp_on_one_guest_port_are_two_rules(dvm):
    dvm.vm("app", 'ports = ["5353:53", {host = 5353, guest = 53, proto = "udp"}]\n')
    plan = json.loads(dvm.ok("plan", "app", "--json").stdout)
    rules = yaml.safe_load(plan["lima_yaml"])["portForwards"]
    assert [(r.get("proto"), r.get("static")) for r in rules[:2]] == [("tcp", None), ("udp", None)]


@pytest.mark.parametrize("file, text, key", [
    ("override.yaml", "portForwards:\n- guestIP: 0.0.0.0\n  guestIPMustBeZero: false\n  hostIP: 0.0.0.0\n", "portForwards"),
    ("default.yaml", "mounts:\n- location: \"~\"\n  writable: true\n", "mounts"),
    ("override.yaml", "ssh:\n  forwardAgent: true\n", "ssh.forwardAgent"),
    ("base.yaml", "portForwards:\n- guestPortRange: [1, 65535]\n  hostIP: 0.0.0.0\n", "portForwards"),
])
def test_lima_config_files_that_break_the_rules_are_refused_and_named(dvm, file, text, key):
    """$LIMA_HOME/_config/*.yaml apply to every instance (upstream/pkg/limayaml/load.go:40-75,
    upstream/pkg/limatmpl/embed.go:49-66); dvm must not edit them, so it refuses to run."""
    dvm.vm("app", "baseline = false\n")
    config_file = os.path.join(dvm.sim.home, "_config", file)
    os.makedirs(os.path.dirname(config_file), exist_ok=True)
    with open(config_file, "w") as f:
        f.write(text)
    try:
        r = dvm.run("sync", "app")
        assert r.returncode == 1, r.stderr
        assert f"{config_file}: {key}: " in r.stderr, r.stderr
        assert "does not edit Lima's own config files" in r.stderr
        assert "create" not in dvm.subcommands()
        r = dvm.run("doctor", "--json")
        problems = [c for c in json.loads(r.stdout)["checks"]
                    if c["check"] == "lima-config" and c["status"] == "problem"]
        assert any(config_file in p["message"] and key in p["message"] for p in problems), problems
    finally:
        os.unlink(config_file)


def test_limactl_gets_proxies_and_lima_settings_but_no_secret(dvm):
    dvm.vm("app", "baseline = false\n")
    dvm.global_config('[lima]\npass_env = ["MY_MIRROR"]\n')
    env = {"http_proxy": "http://proxy:3128", "HTTPS_PROXY": "http://proxy:3128", "no_proxy": "localhost",
           "LIMA_TEMPLATES_PATH": str(dvm.tmp), "XDG_CONFIG_HOME": str(dvm.home / ".config"),
           "MY_MIRROR": "https://mirror", "GITHUB_TOKEN": "ghp_x", "LIMA_AUTH_TOKEN": "secret",
           "LIMA_SSH_PORT_FORWARDER": "true", "OTHER": "x"}
    dvm.ok("ls", env=env)
    calls = dvm.sim.calls()
    assert calls
    for c in calls:
        got = set(c["env"])
        assert {"http_proxy", "HTTPS_PROXY", "no_proxy", "LIMA_TEMPLATES_PATH", "XDG_CONFIG_HOME", "MY_MIRROR"} <= got
        # LIMA_SSH_PORT_FORWARDER would switch the host agent to the TCP-only SSH forwarder
        # (upstream/pkg/hostagent/hostagent.go:954-975).
        assert not got & {"GITHUB_TOKEN", "LIMA_AUTH_TOKEN", "LIMA_SSH_PORT_FORWARDER", "OTHER"}
    dvm.global_config('[lima]\npass_env = ["MY_API_KEY"]\n')
    r = dvm.run("ls")
    assert r.returncode == 2 and "config.toml:2:" in r.stderr and "looks like a secret" in r.stderr, r.stderr


def test_plan_shows_what_a_full_template_as_image_brings(dvm):
    template = dvm.tmp / "docker.yaml"
    template.write_text("networks:\n- lima: shared\nportForwards:\n- guestSocket: /run/docker.sock\n"
                        "  hostSocket: docker.sock\nprovision:\n- mode: system\n  script: echo hi\n")
    dvm.vm("app", f'baseline = false\nimage = "{template}"\n')
    r = dvm.ok("plan", "app")
    assert "networks (lima: shared)" in r.stderr and "1 socket forward" in r.stderr, r.stderr
    assert "1 provision script" in r.stderr
    dvm.vm("app", 'baseline = false\nimage = "template:_images/ubuntu"\n')
    assert "Lima template" not in dvm.ok("plan", "app").stderr


@pytest.mark.needs_simulator("a simulated Apple-silicon Mac (_sim/config.json host_os, host_arch)")
def test_a_create_that_fails_after_lima_wrote_the_instance_leaves_nothing(dvm):
    """vz checks the arch only after `limactl create` wrote the instance
    (upstream/cmd/limactl/start.go:571-579, upstream/pkg/driver/vz/vz_driver_darwin.go:301-303).
    Here dvm sees an x86_64 host (vz is native) and Lima an aarch64 Mac: the create fails late."""
    dvm.sim.configure(host_os="darwin", host_arch="aarch64")
    dvm.vm("app", 'baseline = false\narch = "x86_64"\nvm_type = "vz"\n')
    r = dvm.run("sync", "app")
    assert r.returncode == 1 and "unsupported arch" in r.stderr, r.stderr
    assert dvm.subcommands()[-2:] == ["list", "delete"], dvm.subcommands()
    assert dvm.sim.list_json() == []
    assert not os.path.exists(dvm.sim.instance_dir("dvm-app"))


# --- an existing instance --------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with shared_env(tmp_path_factory, "fidelity", {"app": APP}, sync=["app"]) as e:
        yield e


def drift(env, expression):
    limactl(env, "stop", "-f", "dvm-app")
    r = limactl(env, "--tty=false", "edit", "--set", expression, "dvm-app")
    assert r.returncode == 0, r.stderr
    r = limactl(env, "--tty=false", "start", "dvm-app")
    assert r.returncode == 0, r.stderr


def test_the_created_instance_runs_exactly_dvms_rules(env):
    rules = effective(env)["portForwards"]
    assert not any(r.get("static") for r in rules)
    assert [(r["guestPortRange"], r["proto"], r.get("ignore", False)) for r in rules] == [
        ([3000, 3000], "tcp", False), ([53, 53], "udp", False),
        ([1, 65535], "any", True), ([1, 65535], "any", True)]
    assert env.run("doctor").returncode == 0


def test_a_drifted_instance_is_repaired_by_one_edit(env):
    shared = env.tmp / "host-dir"
    shared.mkdir(exist_ok=True)
    drift(env, '.portForwards = [{"guestIP": "0.0.0.0", "guestIPMustBeZero": false, "hostIP": "0.0.0.0"}] + .portForwards'
               f' | .ssh.forwardAgent = true | .mounts = [{{"location": "{shared}"}}]')
    doc = json.loads(env.run("doctor", "--json").stdout)
    problems = [c["message"] for c in doc["checks"] if c["check"] == "drift" and c["status"] == "problem"]
    assert any("host 0.0.0.0" in p for p in problems), problems
    assert any("forwardAgent" in p for p in problems), problems
    assert any(f"mounts host directories ({shared})" in p for p in problems), problems
    env.sim.clear_calls()
    env.ok("sync", "app")
    edits = env.sim.calls("edit")
    assert len(edits) == 1, env.subcommands()
    expression = edits[0]["argv"][edits[0]["argv"].index("--set") + 1]
    assert ".portForwards = " in expression and ".mounts = []" in expression
    assert ".ssh.forwardAgent = false" in expression
    config = effective(env)
    assert not config.get("mounts") and not config["ssh"].get("forwardAgent")
    assert len(config["portForwards"]) == 4
    assert json.loads(env.run("doctor", "--json").stdout)["problems"] == 0
    # In sync now: the next sync changes nothing.
    env.sim.clear_calls()
    env.ok("sync", "app")
    assert "edit" not in env.subcommands() and "stop" not in env.subcommands()


def test_an_instance_with_old_static_rules_is_moved_to_dynamic_ones(env):
    """Before issue 11 dvm wrote `static: true`, which Lima forwards over SSH for TCP only and
    which suppresses UDP forwarding of the port (upstream/pkg/portfwd/forward.go:133-143)."""
    drift(env, ".portForwards[0].static = true | .portForwards[1].static = true")
    env.sim.clear_calls()
    env.ok("sync", "app")
    assert len(env.sim.calls("edit")) == 1
    assert not any(r.get("static") for r in effective(env)["portForwards"])


def test_create_only_changes_are_reported_by_sync_and_status(env):
    original = (env.config / "vms" / "app.toml").read_text()
    env.vm("app", original + 'image = "template:_images/ubuntu"\ncode_dir = "~/elsewhere/app"\n')
    try:
        r = env.ok("sync", "app")
        assert "recreate to apply: image (template:_images/fedora in the VM, template:_images/ubuntu in the config)" in r.stderr, r.stderr
        assert "code_dir (~/code/app in the VM, ~/elsewhere/app in the config)" in r.stderr
        status = env.json("status", "app")
        assert any(s.startswith("image (") for s in status["recreate_to_apply"]), status
        assert "recreate to apply:" in env.ok("status", "app").stdout
        doc = json.loads(env.run("doctor", "--json").stdout)
        assert any("recreate to apply: image" in c["message"] for c in doc["checks"] if c["status"] == "warning")
    finally:
        env.vm("app", original)
    assert env.json("status", "app")["recreate_to_apply"] == []


def test_copy_operands_end_limactls_flags_and_relative_paths_work(env, tmp_path):
    """`limactl copy` parses flags anywhere (upstream/cmd/limactl/copy.go:43-56): dvm ends them
    with `--`. limactl runs in dvm's scratch directory, so a relative host path (here one that
    looks like a flag) is made absolute against dvm's working directory first."""
    (tmp_path / "-dash.txt").write_text("dash\n")
    r = subprocess.run([DVM, "cp", "--", "-dash.txt", "app:"], cwd=str(tmp_path), env=env.environ(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    copy = env.sim.calls("copy")[-1]["argv"]
    assert copy[copy.index("--") + 1] == str(tmp_path / "-dash.txt")
    assert env.guest("app", 'cat "$HOME/code/app/-dash.txt"') == "dash\n"


def test_a_protected_instance_is_refused_before_anything_stops(env):
    """Lima refuses to delete a protected instance (upstream/pkg/instance/delete.go:18-20);
    dvm says so before it starts or stops it."""
    assert limactl(env, "protect", "dvm-app").returncode == 0
    try:
        env.sim.clear_calls()
        for args in (("rm", "app", "--yes"), ("rm", "app", "--yes", "--force")):
            r = env.run(*args)
            assert r.returncode == 1 and "protected" in r.stderr and "limactl unprotect dvm-app" in r.stderr, r.stderr
        assert not {"stop", "start", "delete", "shell"} & set(env.subcommands()), env.subcommands()
        assert env.sim.status("dvm-app") == "Running"
    finally:
        limactl(env, "unprotect", "dvm-app")
