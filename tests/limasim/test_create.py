"""`limactl create --name NAME -` (dvm's only form): stdin, names, embedding, validation."""

import os

import yaml

from limasim_fixture import DEFAULT_YAML, log_text

DVM_YAML = """\
minimumLimaVersion: 2.0.0
base: template:_images/fedora
vmType: qemu
cpus: 2
memory: 2GiB
disk: 10GiB
mounts: []
containerd: {system: false, user: false}
networks: [{lima: user-v2}]
user: {name: dev, home: /home/dev, shell: /bin/bash}
"""


def test_create_from_stdin_stores_text_verbatim(limasim):
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 0, r.stderr
    err = log_text(r.stderr)
    assert "Terminal is not available, proceeding without opening an editor" in err
    assert "Run `limactl start x` to start the instance." in err
    d = os.path.join(limasim.home, "x")
    assert open(os.path.join(d, "lima.yaml")).read() == DEFAULT_YAML
    assert open(os.path.join(d, "lima-version")).read() == "v2.0.3"
    assert limasim.status("x") == "Stopped"
    assert limasim.calls()[-1]["stdin_bytes"] == len(DEFAULT_YAML)


def test_stdin_requires_name(limasim):
    r = limasim.run("--tty=false", "create", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1 and "--name" in log_text(r.stderr)
    assert os.listdir(limasim.home) == ["_sim"]


def test_already_exists(limasim):
    limasim.create_instance("x", running=False)
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1
    assert 'instance "x" already exists' in log_text(r.stderr)


def test_invalid_names(limasim):
    for bad in ("-bad", "a..b", "x.yaml", "a" * 77, "_x"):
        r = limasim.run("--tty=false", "create", "--name", bad, "-", stdin=DEFAULT_YAML)
        assert r.returncode == 1, bad
        assert "is not a valid identifier" in log_text(r.stderr) or "flag" in log_text(r.stderr)


def test_socket_path_limit(tmp_path):
    from limasim_fixture import LimaSim
    long_home = tmp_path / ("h" * 60)
    sim = LimaSim(home=str(long_home))
    r = sim.run("--tty=false", "create", "--name", "n" * 20, "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1
    assert "must be less than UNIX_PATH_MAX=108 characters" in log_text(r.stderr)


def test_minimum_lima_version(limasim):
    text = DEFAULT_YAML.replace("minimumLimaVersion: 2.0.0", "minimumLimaVersion: 2.1.0")
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=text)
    assert r.returncode == 1
    assert 'template requires Lima version "2.1.0"; this is only "2.0.3"' in log_text(r.stderr)


def test_base_embedding_and_mount_none(limasim):
    r = limasim.run("--tty=false", "create", "--name", "dvm-a", "--mount-none", "-", stdin=DVM_YAML)
    assert r.returncode == 0, r.stderr
    y = limasim.lima_yaml("dvm-a")
    assert "base" not in y
    assert y["images"][0]["location"].startswith("https://download.fedoraproject.org/")
    assert y["mounts"] is None
    assert (y["cpus"], y["memory"], y["disk"]) == (2, "2GiB", "10GiB")
    cfg = limasim.list_json()[0]["config"]
    assert "mounts" not in cfg
    assert cfg["networks"] == [{"lima": "user-v2", "interface": "lima0", "metric": 100}]


def test_base_mounts_are_appended_without_mount_none(limasim):
    text = DVM_YAML.replace("base: template:_images/fedora", "base: [template:_images/fedora, template:_default/mounts]")
    limasim.run("--tty=false", "create", "--name", "m", "-", stdin=text, check=True)
    assert limasim.lima_yaml("m")["mounts"] == [{"location": "~"}]
    cfg = limasim.list_json()[0]["config"]
    assert cfg["mounts"][0]["location"] == os.path.expanduser("~")


def test_validation_errors(limasim, tmp_path):
    bad = DEFAULT_YAML.replace("cpus: 1", "cpus: 0") + "portForwards: [{guestPort: 70000}]\n"
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=bad, cwd=str(tmp_path))
    assert r.returncode == 1
    err = log_text(r.stderr)
    assert "field `cpus`" in err and "portForwards[0].guestPort" in err
    assert not os.path.exists(tmp_path / "lima.REJECTED.yaml")
    assert not os.path.exists(os.path.join(limasim.home, "x"))


def test_no_images_and_bad_yaml(limasim):
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin="cpus: 1\n")
    assert r.returncode == 1 and "field `images` must be set" in log_text(r.stderr)
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin="images: [\n")
    assert r.returncode == 1 and "failed to unmarshal YAML" in log_text(r.stderr)


def test_unknown_keys_warn(limasim):
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=DEFAULT_YAML + "cpuz: 4\n")
    assert r.returncode == 0
    assert "Non-strict YAML detected" in log_text(r.stderr)


def test_unknown_network(limasim):
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=DEFAULT_YAML + "networks: [{lima: nope}]\n")
    assert r.returncode == 1 and "networks[0].lima" in log_text(r.stderr)


def test_set_expression_variants(limasim):
    """`edit --set` goes through the yq subset (libdvm/src/client_sync.cpp builds these)."""
    limasim.create_instance("x", running=False)
    limasim.run("--tty=false", "edit", "--set",
                '.portForwards = [{"guestPort": 80, "hostPort": 8080}] | .cpus = 2', "--set",
                ".portForwards += [{guestPort: 81, hostPort: 8081}]", "--set", "del(.containerd)",
                "x", check=True)
    y = limasim.lima_yaml("x")
    assert y["portForwards"] == [{"guestPort": 80, "hostPort": 8080}, {"guestPort": 81, "hostPort": 8081}]
    assert y["cpus"] == 2 and "containerd" not in y
    r = limasim.run("--tty=false", "edit", "--set", '.env.X = env(HOME)', "x")
    assert r.returncode == 1 and "disabled" in log_text(r.stderr)
    r = limasim.run("--tty=false", "edit", "--set", ".cpus ==", "x")
    assert r.returncode == 1


def test_created_dir_layout(limasim):
    d = limasim.create_instance("x", running=False)
    assert yaml.safe_load(open(os.path.join(d, "lima.yaml")))["cpus"] == 1
    assert os.path.exists(os.path.join(limasim.home, "_config", "user"))
