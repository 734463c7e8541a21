"""start / stop / delete / edit / protect against the contract (no guest sandbox needed)."""

import os
import signal
import time

import yaml

from limasim_fixture import log_text


def test_start_stop_cycle(limasim):
    limasim.create_instance("a", running=False)
    r = limasim.run("--tty=false", "start", "a")
    assert r.returncode == 0, r.stderr
    err = log_text(r.stderr)
    assert 'Starting the instance "a" with internal VM driver "qemu"' in err
    assert "[hostagent] SSH Local Port:" in err
    assert "READY. Run `limactl shell a` to open the shell." in err
    assert limasim.status("a") == "Running"
    d = limasim.instance_dir("a")
    for f in ("ha.pid", "qemu.pid", "ssh.config", "ha.stdout.log", "ha.stderr.log"):
        assert os.path.exists(os.path.join(d, f)), f
    assert oct(os.stat(os.path.join(d, "ssh.config")).st_mode & 0o777) == "0o600"
    r = limasim.run("start", "a")
    assert r.returncode == 0 and 'The instance "a" is already running' in log_text(r.stderr)
    r = limasim.run("stop", "a")
    assert r.returncode == 0, r.stderr
    assert "Sending SIGINT to hostagent process" in log_text(r.stderr)
    assert limasim.status("a") == "Stopped"
    assert not os.path.exists(os.path.join(d, "ha.pid"))
    assert limasim.wait_no_processes() == []


def test_start_timeout_leaves_vm_booting(limasim):
    limasim.create_instance("a", running=False)
    limasim.configure(boot_delay_ms=1500)
    r = limasim.run("--tty=false", "start", "--timeout", "200ms", "a")
    assert r.returncode == 1
    assert 'did not receive an event with the "running" status' in log_text(r.stderr)
    deadline = time.time() + 10
    while limasim.status("a") != "Running" and time.time() < deadline:
        time.sleep(0.05)
    assert limasim.status("a") == "Running"  # host agent and driver are alive, like Lima
    assert limasim.run("stop", "-f", "a").returncode == 0
    assert limasim.status("a") == "Stopped"


def test_start_bad_timeout(limasim):
    limasim.create_instance("a", running=False)
    r = limasim.run("start", "--timeout", "soon", "a")
    assert r.returncode == 1 and "--timeout" in log_text(r.stderr)


def test_stop_errors(limasim):
    r = limasim.run("stop", "nope")
    assert r.returncode == 1
    assert log_text(r.stderr).endswith("open %s/nope/lima.yaml: no such file or directory" % limasim.home)
    limasim.create_instance("a", running=False)
    r = limasim.run("stop", "a")
    assert r.returncode == 1
    assert 'expected status "Running", got "Stopped" (maybe use `limactl stop -f`?)' in log_text(r.stderr)
    r = limasim.run("stop", "-f", "a")
    assert r.returncode == 0  # -f never fails because of state


def test_stop_force_kills_and_cleans(limasim):
    limasim.create_instance("a", running=True)
    d = limasim.instance_dir("a")
    ha = int(open(os.path.join(d, "ha.pid")).read())
    drv = int(open(os.path.join(d, "qemu.pid")).read())
    open(os.path.join(d, "leftover.sock"), "w").close()
    r = limasim.run("stop", "--force", "a")
    assert r.returncode == 0
    err = log_text(r.stderr)
    assert "Sending SIGKILL to the host agent process %d" % ha in err
    assert "Sending SIGKILL to the qemu process %d" % drv in err
    assert not any(f.endswith((".pid", ".sock")) for f in os.listdir(d))
    assert limasim.wait_no_processes() == []


def test_broken_when_driver_dies(limasim):
    limasim.create_instance("a", running=True)
    drv = int(open(os.path.join(limasim.instance_dir("a"), "qemu.pid")).read())
    os.kill(drv, signal.SIGKILL)
    deadline = time.time() + 5
    st = limasim.status("a")
    while st == "Running" and time.time() < deadline:
        time.sleep(0.05)
        st = limasim.status("a")
    # the host agent notices and exits: Broken for a moment, then Stopped
    assert st in ("Broken", "Stopped")
    limasim.run("stop", "-f", "a")
    assert limasim.status("a") == "Stopped"


def test_delete(limasim):
    r = limasim.run("delete", "ghost")
    assert r.returncode == 0
    assert 'Ignoring non-existent instance "ghost"' in log_text(r.stderr)
    r = limasim.run("delete")
    assert r.returncode == 1
    limasim.create_instance("a", running=True)
    r = limasim.run("delete", "a")
    assert r.returncode == 1
    assert 'failed to delete instance "a": expected status "Stopped", got "Running"' in log_text(r.stderr)
    r = limasim.run("delete", "-f", "a", "ghost")
    assert r.returncode == 0, r.stderr
    assert 'Deleted "a"' in log_text(r.stderr)
    assert not os.path.exists(limasim.instance_dir("a"))
    assert limasim.wait_no_processes() == []


def test_protect(limasim):
    limasim.create_instance("a", running=False)
    assert limasim.run("protect", "a").returncode == 0
    assert limasim.list_json()[0]["protected"] is True
    r = limasim.run("delete", "-f", "a")
    assert r.returncode == 1 and "instance is protected" in log_text(r.stderr)
    assert limasim.run("unprotect", "a").returncode == 0
    assert limasim.run("delete", "a").returncode == 0


def test_edit(limasim, tmp_path):
    limasim.create_instance("a", running=True)
    r = limasim.run("--tty=false", "edit", "--set", ".cpus = 2", "a")
    assert r.returncode == 1 and "cannot edit a running instance" in log_text(r.stderr)
    limasim.stop("a")
    r = limasim.run("--tty=false", "edit", "--set", ".cpus = 2", "nope")
    assert r.returncode == 1 and 'instance "nope" not found' in log_text(r.stderr)
    r = limasim.run("--tty=false", "edit", "--set", '.cpus = 4 | .memory = "2GiB" | .disk = "20GiB"', "--set",
                    '.portForwards = [{"guestPort": 8080, "hostPort": 18080, "hostIP": "127.0.0.1", "static": true}]'
                    ' | .env.X = "1"', "a", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'Instance "a" configuration edited' in log_text(r.stderr)
    y = limasim.lima_yaml("a")
    assert (y["cpus"], y["memory"], y["disk"]) == (4, "2GiB", "20GiB")
    assert y["portForwards"][0]["hostPort"] == 18080 and y["env"] == {"X": "1"}
    r = limasim.run("--tty=false", "edit", "--set", ".cpus = 4", "a")
    assert r.returncode == 0 and "no changes" in log_text(r.stderr)
    # dvm runs edit in a scratch directory because of the rejected file (driver.cpp edit)
    r = limasim.run("--tty=false", "edit", "--set", '.disk = "10GiB"', "a", cwd=str(tmp_path))
    assert r.returncode == 1
    assert "shrinking the disk" in log_text(r.stderr)
    assert (tmp_path / "lima.REJECTED.yaml").exists()
    assert limasim.lima_yaml("a")["disk"] == "20GiB"
    r = limasim.run("--tty=false", "edit", "--set", ".cpus = -1", "a", cwd=str(tmp_path))
    assert r.returncode == 1 and "field `cpus`" in log_text(r.stderr)


def test_edit_keeps_other_keys_and_order(limasim):
    limasim.create_instance("a", running=False)
    limasim.run("--tty=false", "edit", "--set", ".cpus = 3", "a", check=True)
    y = yaml.safe_load(open(os.path.join(limasim.instance_dir("a"), "lima.yaml")))
    assert list(y)[:4] == ["minimumLimaVersion", "images", "cpus", "memory"]
    assert y["user"] == {"name": "dev", "home": "/home/dev", "shell": "/bin/bash"}


def test_deleting_lima_home_stops_host_agents(tmp_path):
    from limasim_fixture import LimaSim
    import shutil
    sim = LimaSim(tmp_path, sandbox="off")
    sim.create_instance("a", running=True)
    assert sim.processes()
    shutil.rmtree(sim.home)
    assert sim.wait_no_processes(timeout=5) == []


def test_concurrent_starts_boot_once(limasim):
    import subprocess
    limasim.create_instance("a", running=False)
    procs = [subprocess.Popen([limasim.limactl, "start", "a"], env=limasim.env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(3)]
    errs = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sum("READY" in e for e in errs) == 1
    assert sum("already running" in e for e in errs) == 2
    assert limasim.status("a") == "Running"
