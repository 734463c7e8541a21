"""SECURITY.md promise 3, through the CLI and with ports really forwarded: the simulator's host
agent forwards by Lima's own rules (tests/limasim/limasim/portfwd.py, ported from
upstream/pkg/portfwd/forward.go and upstream/pkg/hostagent/port.go). A guest service on a
configured TCP or UDP port answers at the configured host address; a listener on any other
port, on 0.0.0.0, 127.0.0.1, :: or ::1, gets no host socket at all; a 0.0.0.0 binding exists
only where the config wrote one. Then the instance drifts (an extra rule, a mount, agent
forwarding): sync repairs it, or refuses when Lima's own config file is the cause."""

import json
import os
import time

import pytest

from conftest import DVM, shared_env
from limasim.portfwd import process_bindings
from portfwd_probe import GuestServers, free_host_ports, tcp_echo, udp_echo

# Host ports for the three rules, guest ports for the three services, six unlisted guest ports:
# all free on the host now, so that a forward Lima's default rule made (same number) would show.
H_TCP, H_UDP, H_LAN, G_TCP, G_UDP, G_LAN, *UNLISTED = free_host_ports(12)

APP = (f'baseline = false\nports = ["127.0.0.1:{H_TCP}:{G_TCP}", {{host = {H_UDP}, guest = {G_UDP}, proto = "udp"}},'
       f' "0.0.0.0:{H_LAN}:{G_LAN}"]\n')
SERVICES = [("tcp", "::", G_TCP), ("udp", "0.0.0.0", G_UDP), ("tcp", "127.0.0.1", G_LAN)]
STRAYS = [("tcp", "0.0.0.0", UNLISTED[0]), ("tcp", "127.0.0.1", UNLISTED[1]), ("tcp", "::", UNLISTED[2]),
          ("tcp", "::1", UNLISTED[3]), ("udp", "0.0.0.0", UNLISTED[4]), ("udp", "::1", UNLISTED[5])]
# Go binds a 0.0.0.0 host address as one dual-stack [::] socket.
EXPECTED = {("tcp", "127.0.0.1", H_TCP), ("udp", "127.0.0.1", H_UDP), ("tcp", "::", H_LAN)}


pytestmark = pytest.mark.needs_simulator("guest files written from the host and the host agent's own sockets")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with shared_env(tmp_path_factory, "ports", {"app": APP}, sync=["app"]) as e:
        yield e


def host_agent_pid(env):
    with open(os.path.join(env.sim.instance_dir("dvm-app"), "ha.pid")) as f:
        return int(f.read())


def bindings(env):
    return {(b.proto, b.ip, b.port) for b in process_bindings(host_agent_pid(env))}


def wait_for(predicate, what, timeout=15):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def services(env):
    """The guest services and the strays, started through `dvm ssh` as the guest user."""
    return GuestServers(env.sim, "dvm-app", SERVICES + STRAYS, command=[DVM, "ssh", "app", "--"],
                        env=env.environ())


def assert_promise_3(env):
    wait_for(lambda: bindings(env) == EXPECTED, f"host sockets {EXPECTED}, have {bindings(env)}")
    assert tcp_echo("127.0.0.1", H_TCP, b"a") == b"echo:a"
    assert udp_echo("127.0.0.1", H_UDP, b"b") == b"echo:b"
    assert tcp_echo("127.0.0.1", H_LAN, b"c") == b"echo:c"
    # 127.0.0.1 rules are not reachable on another host address.
    assert tcp_echo("::1", H_TCP, b"d") is None
    for proto, _ip, port in STRAYS + [(p, "", g) for p, _, g in SERVICES]:
        if proto == "tcp":
            assert tcp_echo("127.0.0.1", port, b"x") in (None, b""), port
        else:
            assert udp_echo("127.0.0.1", port, b"x", timeout=0.5) is None, port


def drift(env, expression):
    env.sim.run("stop", "-f", "dvm-app", record=False)
    r = env.sim.run("--tty=false", "edit", "--set", expression, "dvm-app", record=False)
    assert r.returncode == 0, r.stderr
    env.sim.run("--tty=false", "start", "dvm-app", record=False, check=True)


def test_configured_ports_answer_and_nothing_else_is_bound(env):
    servers = services(env)
    try:
        assert_promise_3(env)
    finally:
        servers.stop()
    # Forwards follow the guest listeners: with the services gone, their host sockets go too.
    wait_for(lambda: bindings(env) == set(), "no host sockets once the services stopped")


def test_a_drifted_instance_forwards_everything_until_sync_repairs_it(env):
    # A rule in front of dvm's that forwards every guest listener to the same host port, a
    # mount and agent forwarding: what a tampered lima.yaml could bring.
    shared = env.tmp / "host-dir"
    shared.mkdir(exist_ok=True)
    drift(env, '.portForwards = [{"guestIP": "0.0.0.0", "guestIPMustBeZero": false, "hostIP": "127.0.0.1"}]'
               f' + .portForwards | .mounts = [{{"location": "{shared}"}}] | .ssh.forwardAgent = true')
    servers = services(env)
    try:
        # The harm is real: a stray port now answers on the host.
        wait_for(lambda: ("tcp", "127.0.0.1", UNLISTED[0]) in bindings(env), "the drifted rule to forward a stray")
        assert tcp_echo("127.0.0.1", UNLISTED[0], b"s") == b"echo:s"
    finally:
        servers.stop()
    env.sim.clear_calls()
    env.ok("sync", "app")
    assert len(env.sim.calls("edit")) == 1
    config = next(i for i in env.sim.list_json() if i["name"] == "dvm-app")["config"]
    assert not config.get("mounts") and not config["ssh"].get("forwardAgent")
    servers = services(env)
    try:
        assert_promise_3(env)
    finally:
        servers.stop()


def test_a_forwarding_rule_in_limas_override_file_is_refused(env):
    override = os.path.join(env.sim.home, "_config", "override.yaml")
    with open(override, "w") as f:
        f.write(json.dumps({"portForwards": [{"guestIP": "0.0.0.0", "guestIPMustBeZero": False,
                                              "hostIP": "0.0.0.0"}]}))
    try:
        env.sim.clear_calls()
        r = env.run("sync", "app")
        assert r.returncode == 1 and f"{override}: portForwards: " in r.stderr, r.stderr
        # Refused before anything was stopped, edited or run in the guest.
        assert set(env.subcommands()) <= {"--version", "list"}, env.subcommands()
        doctor = json.loads(env.run("doctor", "--json").stdout)
        assert any(override in c["message"] for c in doctor["checks"] if c["status"] == "problem")
    finally:
        os.unlink(override)
    env.ok("sync", "app")
