"""`limactl list --json`: NDJSON shape and key order, empty/unknown handling."""

import json
import os

from limasim_fixture import log_text

KEY_ORDER = ["name", "hostname", "status", "dir", "vmType", "arch", "cpus", "memory", "disk", "sshLocalPort",
             "sshConfigFile", "hostAgentPID", "driverPID", "config", "sshAddress", "protected", "limaVersion",
             "HostOS", "HostArch", "LimaHome", "IdentityFile"]


def test_empty_home_warns_and_prints_nothing(limasim):
    r = limasim.run("list", "--json")
    assert r.returncode == 0
    assert r.stdout == b""
    assert "No instance found. Run `limactl create` to create an instance." in log_text(r.stderr)


def test_unknown_name(limasim):
    limasim.create_instance("a", running=False)
    r = limasim.run("list", "--json", "b")
    assert r.returncode == 1
    assert r.stdout == b""
    err = log_text(r.stderr)
    assert "No instance matching b found." in err
    assert 'level=fatal msg="unmatched instances"' in r.stderr.decode()
    # with an empty LIMA_HOME and a name: still "unmatched" (exit 1)
    r = limasim.run("list", "--json", "a", "b")
    assert r.returncode == 1
    assert [json.loads(l)["name"] for l in r.stdout.decode().splitlines()] == ["a"]


def test_ndjson_shape_stopped_and_running(limasim):
    limasim.configure(sandbox="off")  # shape only: no guest needed
    limasim.create_instance("b", running=True)
    limasim.create_instance("a", running=False)
    r = limasim.run("list", "--json")
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 2 and all(l.startswith('{"name":"') for l in lines)
    a, b = [json.loads(l) for l in lines]
    assert (a["name"], a["status"], b["status"]) == ("a", "Stopped", "Running")
    assert list(b) == KEY_ORDER
    assert [k for k in a if k in KEY_ORDER] == [k for k in KEY_ORDER if k in a]
    assert "hostAgentPID" not in a and "driverPID" not in a and "sshLocalPort" not in a
    assert a["hostname"] == "lima-a"
    assert a["dir"] == os.path.join(limasim.home, "a")
    assert a["memory"] == 1 << 30 and a["disk"] == 10 << 30 and a["cpus"] == 1
    assert a["sshAddress"] == "127.0.0.1" and a["protected"] is False and a["limaVersion"] == "v2.0.3"
    assert a["sshConfigFile"] == os.path.join(limasim.home, "a", "ssh.config")
    cfg = a["config"]
    assert cfg["memory"] == "1GiB" and cfg["disk"] == "10GiB" and cfg["cpus"] == 1
    assert "mounts" not in cfg  # mounts: [] -> omitted
    assert cfg["user"] == {"name": "dev", "comment": "Lima", "home": "/home/dev", "shell": "/bin/bash",
                           "uid": os.getuid() or 1000}  # Lima: the host uid (root maps to 1000 here)
    assert isinstance(b["hostAgentPID"], int) and isinstance(b["driverPID"], int)
    assert isinstance(b["sshLocalPort"], int) and b["sshLocalPort"] > 0
    # no empty objects anywhere (2.x re-encodes through yq)

    def walk(v):
        if isinstance(v, dict):
            assert v, "empty object in list output"
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(b)


def test_sshlocalport_kept_after_stop(limasim):
    limasim.configure(sandbox="off")
    limasim.create_instance("a", running=True)
    port = limasim.list_json()[0]["sshLocalPort"]
    limasim.stop("a", force=False)
    (a,) = limasim.list_json()
    assert a["status"] == "Stopped" and a["sshLocalPort"] == port


def test_port_forward_defaults_filled(limasim):
    from limasim_fixture import DEFAULT_YAML
    y = DEFAULT_YAML + """portForwards:
- {guestPort: 8080, hostPort: 18080, proto: tcp, static: true}
- {guestIP: 0.0.0.0, guestIPMustBeZero: true, guestPortRange: [1, 65535], proto: any, ignore: true}
- {guestIP: 127.0.0.1, guestPortRange: [1, 65535], proto: any, ignore: true}
"""
    limasim.create_instance("a", y, running=False)
    pf = limasim.list_json()[0]["config"]["portForwards"]
    assert pf[0] == {"guestIP": "127.0.0.1", "guestPort": 8080, "guestPortRange": [8080, 8080],
                     "hostIP": "127.0.0.1", "hostPort": 18080, "hostPortRange": [18080, 18080],
                     "proto": "tcp", "static": True}
    assert pf[1]["guestIPMustBeZero"] is True and pf[1]["ignore"] is True
    assert pf[2]["hostPortRange"] == [1, 65535]


def test_order_of_arguments_and_dot_underscore_entries(limasim):
    limasim.create_instance("a", running=False)
    limasim.create_instance("b", running=False)
    os.makedirs(os.path.join(limasim.home, ".hidden"))
    os.makedirs(os.path.join(limasim.home, "_templates"))
    r = limasim.run("list", "--json")
    assert [json.loads(l)["name"] for l in r.stdout.decode().splitlines()] == ["a", "b"]
    r = limasim.run("list", "--json", "b", "a")
    assert [json.loads(l)["name"] for l in r.stdout.decode().splitlines()] == ["b", "a"]


def test_broken_instance_dir(limasim):
    limasim.create_instance("a", running=False)
    os.unlink(os.path.join(limasim.home, "a", "lima.yaml"))
    (a,) = limasim.list_json()
    assert a["status"] == "Broken" and a["errors"]


def test_stale_pid_files_mean_stopped(limasim):
    limasim.create_instance("a", running=False)
    with open(os.path.join(limasim.home, "a", "ha.pid"), "w") as f:
        f.write("999999\n")
    assert limasim.status("a") == "Stopped"
