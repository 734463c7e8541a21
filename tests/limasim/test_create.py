"""`limactl create`: locators, stdin, names, embedding, flags, validation."""

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


def test_create_from_file_derives_name(limasim, tmp_path):
    p = tmp_path / "My-VM.yaml"
    p.write_text(DEFAULT_YAML)
    r = limasim.run("--tty=false", "create", str(p))
    assert r.returncode == 0, r.stderr
    assert os.path.isdir(os.path.join(limasim.home, "my-vm"))


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
    limasim.configure(version="1.2.0")
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1
    assert 'template requires Lima version "2.0.0"; this is only "1.2.0"' in log_text(r.stderr)


def test_base_embedding_mount_none_and_flags(limasim):
    r = limasim.run("--tty=false", "create", "--name", "dvm-a", "--mount-none", "--cpus", "3", "--memory", "1.5",
                    "--disk", "20", "--set", '.env.FOO = "bar"', "-", stdin=DVM_YAML)
    assert r.returncode == 0, r.stderr
    y = limasim.lima_yaml("dvm-a")
    assert "base" not in y
    assert y["images"][0]["location"].startswith("https://download.fedoraproject.org/")
    assert y["mounts"] is None
    assert (y["cpus"], y["memory"], y["disk"]) == (3, "1.5GiB", "20GiB")
    assert y["env"] == {"FOO": "bar"}
    cfg = limasim.list_json()[0]["config"]
    assert "mounts" not in cfg
    assert cfg["networks"] == [{"lima": "user-v2", "interface": "lima0", "metric": 100}]


def test_base_mounts_are_appended_without_mount_none(limasim):
    text = DVM_YAML.replace("base: template:_images/fedora", "base: [template:_images/fedora, template:_default/mounts]")
    limasim.run("--tty=false", "create", "--name", "m", "-", stdin=text, check=True)
    assert limasim.lima_yaml("m")["mounts"] == [{"location": "~"}]
    cfg = limasim.list_json()[0]["config"]
    assert cfg["mounts"][0]["location"] == os.path.expanduser("~")


def test_template_locators(limasim):
    r = limasim.run("--tty=false", "create", "--name", "d", "template:default")
    assert r.returncode == 0, r.stderr
    r = limasim.run("--tty=false", "create", "--name", "d2", "template://default")
    assert r.returncode == 0 and "should be written as" in log_text(r.stderr)
    r = limasim.run("--tty=false", "create", "--name", "d3", "template:nope")
    assert r.returncode == 1
    limasim.configure(version="1.0.7")
    r = limasim.run("--tty=false", "create", "--name", "d4", "template:default")
    assert r.returncode == 1  # 1.x does not understand template:NAME


def test_bare_identifier_is_deprecated_default(limasim):
    r = limasim.run("--tty=false", "create", "newvm")
    assert r.returncode == 0
    assert "deprecated" in log_text(r.stderr)
    assert os.path.isdir(os.path.join(limasim.home, "newvm"))


def test_url_locator_uses_download_fixtures(limasim):
    limasim.add_download("https://example.com/t/web.yaml", DEFAULT_YAML)
    assert limasim.run("--tty=false", "create", "https://example.com/t/web.yaml").returncode == 0
    assert os.path.isdir(os.path.join(limasim.home, "web"))
    r = limasim.run("--tty=false", "create", "https://example.com/t/other.yaml")
    assert r.returncode == 1 and "no such host" in log_text(r.stderr)


def test_validation_errors_and_rejected_file(limasim, tmp_path):
    bad = DEFAULT_YAML.replace("cpus: 1", "cpus: 0") + "portForwards: [{guestPort: 70000}]\n"
    r = limasim.run("--tty=false", "create", "--name", "x", "-", stdin=bad, cwd=str(tmp_path))
    assert r.returncode == 1
    err = log_text(r.stderr)
    assert "field `cpus`" in err and "portForwards[0].guestPort" in err
    assert not os.path.exists(tmp_path / "lima.REJECTED.yaml")
    f = tmp_path / "bad.yaml"
    f.write_text(bad)
    r = limasim.run("--tty=true", "create", "--name", "x", str(f), cwd=str(tmp_path))
    assert r.returncode == 1
    assert (tmp_path / "lima.REJECTED.yaml").exists()
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


def test_version_gated_flags(limasim):
    limasim.configure(version="1.1.0")
    r = limasim.run("--tty=false", "create", "--name", "x", "--mount-none", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1 and "unknown flag: --mount-none" in log_text(r.stderr)


def test_set_expression_variants(limasim):
    limasim.run("--tty=false", "create", "--name", "x", "--set",
                '.portForwards = [{"guestPort": 80, "hostPort": 8080}] | .cpus = 2', "--set",
                ".portForwards += [{guestPort: 81, hostPort: 8081}]", "--set", "del(.containerd)",
                "-", stdin=DEFAULT_YAML, check=True)
    y = limasim.lima_yaml("x")
    assert y["portForwards"] == [{"guestPort": 80, "hostPort": 8080}, {"guestPort": 81, "hostPort": 8081}]
    assert y["cpus"] == 2 and "containerd" not in y
    r = limasim.run("--tty=false", "create", "--name", "y", "--set", '.env.X = env(HOME)', "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1 and "disabled" in log_text(r.stderr)
    r = limasim.run("--tty=false", "create", "--name", "z", "--set", ".cpus ==", "-", stdin=DEFAULT_YAML)
    assert r.returncode == 1


def test_created_dir_layout(limasim):
    d = limasim.create_instance("x", running=False)
    assert yaml.safe_load(open(os.path.join(d, "lima.yaml")))["cpus"] == 1
    assert os.path.exists(os.path.join(limasim.home, "_config", "user"))
