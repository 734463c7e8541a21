"""Port forwarding: Lima's rule resolution (limasim/portfwd.py) and the live forwarding of the
simulator's host agent, checked against Lima's source (shared/lima/upstream, cited as
`upstream/<path>:<line>`).

The promise under test (SECURITY.md): unlisted guest ports are not forwarded, and forwarded
ports bind only where the config says."""

import json
import os
import time

import pytest

from limasim import portfwd
from limasim.portfwd import Plan, fill_port_forward_defaults, forwarding_addresses, port_forward_rules
from limasim_fixture import DEFAULT_YAML, LimaSim, log_text, requires_sandbox
from portfwd_probe import GuestServers, free_for_all, free_host_ports, tcp_echo, udp_echo

USES_SANDBOX = True
SSH_PORT = 60022
IPS = ("0.0.0.0", "::", "127.0.0.1", "::1")

# dvm's catch-all rules after the user rules (libdvm/src/lima/render.cpp:55-65)
R_ANY = {"guestIP": "0.0.0.0", "guestIPMustBeZero": True, "guestPortRange": [1, 65535], "proto": "any",
         "ignore": True}
R_LO = {"guestIP": "127.0.0.1", "guestPortRange": [1, 65535], "proto": "any", "ignore": True}


# ============================================================================================
# a) resolution, ported from upstream


DEFAULT_RULE = {"guestIP": "127.0.0.1", "guestIPMustBeZero": False, "guestPortRange": [1, 65535],
                "hostIP": "127.0.0.1", "hostPortRange": [1, 65535], "proto": "any", "ignore": False,
                "static": False, "reverse": False}


@pytest.mark.parametrize("rule,expect", [
    pytest.param({}, DEFAULT_RULE, id="defaults.go:991-1041 empty rule is Lima's default forward (1-65535)"),
    pytest.param({"guestIP": "0.0.0.0"}, {"guestIP": "0.0.0.0", "guestIPMustBeZero": True},
                 id="defaults.go:1002-1004 guestIP 0.0.0.0 implies guestIPMustBeZero"),
    pytest.param({"guestIPMustBeZero": True}, {"guestIP": "0.0.0.0", "guestIPMustBeZero": True},
                 id="defaults.go:995-997 guestIPMustBeZero without guestIP means 0.0.0.0"),
    pytest.param({"guestIP": "0.0.0.0", "guestIPMustBeZero": False}, {"guestIPMustBeZero": False},
                 id="defaults.go:1002 an explicit false is kept"),
    pytest.param({"guestPort": 80}, {"guestPortRange": [80, 80], "hostPortRange": [80, 80], "hostIP": "127.0.0.1"},
                 id="defaults.go:1012-1015,1034-1035 guestPort only"),
    pytest.param({"guestPort": 80, "hostPort": 8080}, {"guestPortRange": [80, 80], "hostPortRange": [8080, 8080]},
                 id="defaults.go:1036-1038 hostPort"),
    pytest.param({"guestPortRange": [1000, 1010]}, {"hostPortRange": [1000, 1010]},
                 id="defaults.go:1034-1035 host range = guest range"),
    pytest.param({"proto": "udp", "hostIP": "0.0.0.0"}, {"proto": "udp", "hostIP": "0.0.0.0"},
                 id="defaults.go:992,1005 explicit proto and hostIP kept"),
    pytest.param({"guestSocket": "/run/x.sock", "hostSocket": "x.sock"},
                 {"hostSocket": "/inst/sock/x.sock", "guestPortRange": [1, 65535]},
                 id="defaults.go:1024-1032 relative hostSocket goes to <instDir>/sock"),
])
def test_fill_port_forward_defaults(rule, expect):
    got = fill_port_forward_defaults(rule, inst_dir="/inst")
    assert {k: got.get(k) for k in expect} == expect
    if "hostSocket" in rule:
        assert "hostPortRange" not in got


def test_rule_list_order():
    """upstream/pkg/hostagent/port.go:36-51: SSH ignores (guestIPMustBeZero false), instance rules,
    then the default rule."""
    user = {"guestPort": 3000, "hostPort": 3001}
    rules = port_forward_rules([user], SSH_PORT)
    assert [(r["guestPortRange"], r["ignore"], r["guestIP"], r["guestIPMustBeZero"]) for r in rules] == [
        ([22, 22], True, "0.0.0.0", False), ([SSH_PORT, SSH_PORT], True, "0.0.0.0", False),
        ([3000, 3000], False, "127.0.0.1", False), ([1, 65535], False, "127.0.0.1", False)]
    assert rules[-1] == DEFAULT_RULE


def _case(cid, rules, forwarder, ip, port, proto, expect):
    return pytest.param(rules, forwarder, ip, port, proto, expect, id=cid)


RESOLUTION = [
    # upstream/pkg/hostagent/port_test.go:21-30 (the same rule list feeds the gRPC forwarder)
    *[_case("port_test.go:21-30 %s %s:%d blocked" % (fw, ip, port), [], fw, ip, port, "tcp", "")
      for fw in ("ssh", "grpc") for ip in IPS for port in (22, SSH_PORT)],
    *[_case("port_test.go:21-30 grpc udp %s:22 blocked" % ip, [], "grpc", ip, 22, "udp", "") for ip in IPS],
    # upstream/pkg/hostagent/port_test.go:32-38
    *[_case("port_test.go:32-38 %s %s:8080" % (fw, ip), [], fw, ip, 8080, "tcp", "127.0.0.1:8080")
      for fw in ("ssh", "grpc") for ip in ("0.0.0.0", "127.0.0.1", "::1")],
    _case("forward.go:113 [::] is unspecified too", [], "grpc", "::", 8080, "tcp", "127.0.0.1:8080"),
    _case("forward.go:114 the default rule does not take other guest IPs", [], "grpc", "10.0.2.15", 8080, "tcp", ""),
    _case("forward.go:106-108 default rule (any) forwards udp", [], "grpc", "127.0.0.1", 5300, "udp", "127.0.0.1:5300"),
    _case("forward.go:106-108 a udp rule does not match tcp",
          [{"guestPort": 8080, "hostPort": 9090, "proto": "udp"}], "grpc", "127.0.0.1", 8080, "tcp", "127.0.0.1:8080"),
    _case("forward.go:106-108 a udp rule matches udp",
          [{"guestPort": 8080, "hostPort": 9090, "proto": "udp"}], "grpc", "127.0.0.1", 8080, "udp", "127.0.0.1:9090"),
    _case("port.go:90-94 the ssh forwarder skips udp rules",
          [{"guestPort": 8080, "hostPort": 9090, "proto": "udp"}], "ssh", "127.0.0.1", 8080, "tcp", "127.0.0.1:8080"),
    _case("forward.go:116-118 0.0.0.0 with guestIPMustBeZero false takes 127.0.0.1",
          [{"guestIP": "0.0.0.0", "guestIPMustBeZero": False, "guestPort": 8080, "hostPort": 9090}],
          "grpc", "127.0.0.1", 8080, "tcp", "127.0.0.1:9090"),
    _case("forward.go:116-118 ... and any other guest IP",
          [{"guestIP": "0.0.0.0", "guestIPMustBeZero": False, "guestPortRange": [1, 65535]}],
          "grpc", "10.0.2.15", 8080, "tcp", "127.0.0.1:8080"),
    _case("defaults.go:1002-1004 + forward.go:116 0.0.0.0 rule defaults to exact: 127.0.0.1 falls through",
          [{"guestIP": "0.0.0.0", "guestPort": 8080, "hostPort": 9090}], "grpc", "127.0.0.1", 8080, "tcp",
          "127.0.0.1:8080"),
    _case("forward.go:113 a 0.0.0.0 listener matches the guestIPMustBeZero rule",
          [{"guestIP": "0.0.0.0", "guestPort": 8080, "hostPort": 9090}], "grpc", "0.0.0.0", 8080, "tcp",
          "127.0.0.1:9090"),
    _case("forward.go:115 ::1 matches a 127.0.0.1 rule",
          [{"guestPort": 8080, "hostPort": 9090}], "grpc", "::1", 8080, "tcp", "127.0.0.1:9090"),
    _case("forward.go:122-125 a 127.0.0.1 ignore rule does not stop a 0.0.0.0 listener",
          [{"guestPort": 8080, "ignore": True}], "grpc", "0.0.0.0", 8080, "tcp", "127.0.0.1:8080"),
    _case("forward.go:126 a 127.0.0.1 ignore rule stops a 127.0.0.1 listener",
          [{"guestPort": 8080, "ignore": True}], "grpc", "127.0.0.1", 8080, "tcp", ""),
    _case("forward.go:126 ... and a ::1 listener",
          [{"guestPort": 8080, "ignore": True}], "grpc", "::1", 8080, "tcp", ""),
    _case("forward.go:154 host port = guest port + range offset",
          [{"guestPortRange": [1000, 1010], "hostPortRange": [2000, 2010]}], "grpc", "127.0.0.1", 1005, "tcp",
          "127.0.0.1:2005"),
    _case("forward.go:149 hostIP 0.0.0.0", [{"guestPort": 80, "hostPort": 8080, "hostIP": "0.0.0.0"}],
          "grpc", "127.0.0.1", 80, "tcp", "0.0.0.0:8080"),
    _case("forward.go:156 HostString brackets IPv6", [{"guestPort": 80, "hostPort": 8080, "hostIP": "::1"}],
          "grpc", "::1", 80, "udp", "[::1]:8080"),
    _case("validate.go:387-388 the first matching rule wins (audit BUG-2)",
          [{"guestPort": 3000, "hostPort": 3000}, {"guestPort": 3000, "hostPort": 8080, "hostIP": "0.0.0.0"}],
          "grpc", "127.0.0.1", 3000, "tcp", "127.0.0.1:3000"),
    _case("forward.go:52-54,133-143 a static tcp rule hides the udp listener too (audit BUG-1)",
          [{"guestPort": 53, "hostPort": 5353, "proto": "tcp", "static": True}], "grpc", "127.0.0.1", 53, "udp", ""),
    _case("forward.go:133-143 a static rule hides its whole range",
          [{"guestPortRange": [4000, 4010], "static": True}], "grpc", "0.0.0.0", 4005, "tcp", ""),
    _case("port.go:119-167 the ssh forwarder has no static check",
          [{"guestPort": 3000, "hostPort": 3001, "static": True}], "ssh", "0.0.0.0", 3000, "tcp", "127.0.0.1:3001"),
    _case("port.go:140-143 the ssh forwarder never forwards udp", [], "ssh", "127.0.0.1", 5300, "udp", ""),
]


@pytest.mark.parametrize("inst_rules,forwarder,ip,port,proto,expect", RESOLUTION)
def test_dynamic_resolution(inst_rules, forwarder, ip, port, proto, expect):
    assert Plan(inst_rules, SSH_PORT, forwarder).decide(ip, port, proto).host_addr == expect


def test_forwarding_addresses_guest_side():
    rules = port_forward_rules([], SSH_PORT)
    assert forwarding_addresses(rules, "::", 8080, "tcp") == ("127.0.0.1:8080", "[::]:8080")
    assert forwarding_addresses(rules, "::ffff:127.0.0.1", 8080, "tcp") == ("127.0.0.1:8080", "127.0.0.1:8080")


@pytest.mark.parametrize("inst_rules,expect", [
    pytest.param([{"guestPort": 3000, "hostPort": 3001, "proto": "tcp", "static": True}],
                 [("127.0.0.1:3001", "127.0.0.1:3000")], id="hostagent.go:849-866 tcp static"),
    pytest.param([{"guestPort": 3000, "hostPort": 3001, "proto": "any", "static": True}],
                 [("127.0.0.1:3001", "127.0.0.1:3000")], id="port.go:90-94 any is tcp too"),
    pytest.param([{"guestPort": 53, "hostPort": 5353, "proto": "udp", "static": True}],
                 [("127.0.0.1:53", "127.0.0.1:53")],
                 id="port.go:90-94 a udp static rule falls through to the default rule (TCP 53->53)"),
    pytest.param([{"guestPort": 53, "hostPort": 5353, "proto": "udp", "static": True}, R_ANY, R_LO], [],
                 id="hostagent.go:849-866 udp static + dvm ignores: nothing (audit BUG-1)"),
    pytest.param([{"guestPort": 3000, "hostPort": 3000, "static": True},
                  {"guestPort": 3000, "hostPort": 8080, "hostIP": "0.0.0.0", "static": True}],
                 [("127.0.0.1:3000", "127.0.0.1:3000")] * 2, id="hostagent.go:858 first match twice (audit BUG-2)"),
    pytest.param([{"guestPortRange": [4000, 4001], "static": True}], [],
                 id="hostagent.go:854-856 looked up by guestPort: a range-only rule gives port 0"),
    pytest.param([{"guestIP": "0.0.0.0", "guestPort": 3000, "hostPort": 3001, "static": True}],
                 [("127.0.0.1:3001", "0.0.0.0:3000")], id="port.go:114 remote is the rule's guest IP"),
])
def test_static_forwards(inst_rules, expect):
    assert Plan(inst_rules, SSH_PORT).static_forwards() == expect


@pytest.mark.parametrize("inst_rules,expect", [
    ([R_ANY, R_LO], (True, True)),
    ([{"guestPortRange": [1, 65535], "proto": "tcp", "ignore": True}], (True, False)),
    ([{"guestPortRange": [1, 65535], "proto": "udp", "ignore": True},
      {"guestPortRange": [1, 65535], "proto": "tcp", "ignore": True}], (True, True)),
    ([{"guestPort": 3000}, R_ANY, R_LO], (False, False)),  # only a leading run counts
])
def test_ignore_flags(inst_rules, expect):
    """upstream/pkg/hostagent/hostagent.go:230-249."""
    plan = Plan(inst_rules)
    assert (plan.ignore_tcp, plan.ignore_udp) == expect


@pytest.mark.parametrize("value,expect", [("", "grpc"), ("true", "ssh"), ("1", "ssh"), ("T", "ssh"),
                                          ("false", "grpc"), ("0", "grpc"), ("yes", "grpc")])
def test_forwarder_selection(value, expect):
    """upstream/pkg/hostagent/hostagent.go:959-968 (strconv.ParseBool; invalid -> warning, gRPC)."""
    fw, warning = portfwd.forwarder_for_env(value)
    assert fw == expect
    assert (warning is not None) == (value == "yes")


def test_parse_proc_net():
    tcp6 = ("  sl  local_address                         remote_address                        st tx_queue "
            "rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 "
            "00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0\n"
            "   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 "
            "00:00000000 00000000     0        0 102 1 0000000000000000 100 0 0 10 0\n"
            "   2: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 "
            "00:00000000 00000000     0        0 103 1 0000000000000000 100 0 0 10 0\n"
            "   3: 0000000000000000FFFF00000100007F:1F93 0000000000000000FFFF00000100007F:1234 01 00000000:00000000 "
            "00:00000000 00000000     0        0 104 1 0000000000000000 100 0 0 10 0\n")
    assert portfwd.parse_proc_net(tcp6, "tcp") == [("tcp", "::", 8080), ("tcp", "::1", 8081),
                                                  ("tcp", "127.0.0.1", 8082)]
    udp = ("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
           "pointer drops\n"
           "  1: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 201 2 0 0\n"
           "  2: 0100007F:0036 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 202 2 0 0\n")
    assert portfwd.parse_proc_net(udp, "udp") == [("udp", "127.0.0.1", 53)]


# ============================================================================================
# b) dvm's rendering: user rules + the two catch-all ignores


def _dvm_rules(host_ip, proto, static, guest=41001, host=42001):
    rule = {"guestPort": guest, "hostPort": host, "hostIP": host_ip, "proto": proto}
    if static:
        rule["static"] = True
    return [rule, R_ANY, R_LO]


DVM_CASES = []
for _static in (False, True):
    for _hip in ("127.0.0.1", "0.0.0.0"):
        for _proto in ("tcp", "udp"):
            for _lproto in ("tcp", "udp"):
                for _lip in IPS:
                    for _port in (41001, 41999):
                        if _static:
                            # static: TCP-only, dialled at 127.0.0.1 (audit BUG-1, R-1)
                            ok = _port == 41001 and _proto == _lproto == "tcp" and _lip != "::1"
                        else:
                            ok = _port == 41001 and _proto == _lproto
                        DVM_CASES.append(pytest.param(
                            _static, _hip, _proto, _lproto, _lip, _port, "%s:42001" % _hip if ok else "",
                            id="%s-rule-%s-%s-listener-%s-%s:%d" % ("static" if _static else "dynamic", _proto, _hip,
                                                                    _lproto, _lip, _port)))


@pytest.mark.parametrize("static,host_ip,proto,lproto,lip,port,expect", DVM_CASES)
def test_dvm_rules(static, host_ip, proto, lproto, lip, port, expect):
    plan = Plan(_dvm_rules(host_ip, proto, static), SSH_PORT)
    assert plan.host_addr(lip, port, lproto) == expect
    if static:
        # the dynamic forwarder never touches a static port, whatever the protocol
        assert plan.decide(lip, port, lproto).action == ("static" if port == 41001 else "not-forwarding")
        assert plan.static_forwards() == ([("%s:42001" % host_ip, "127.0.0.1:41001")] if proto == "tcp" else [])


@pytest.mark.parametrize("lip", IPS)
def test_dvm_rules_ssh_forwarder_drops_udp(lip):
    plan = Plan(_dvm_rules("127.0.0.1", "udp", False), SSH_PORT, forwarder="ssh")
    assert plan.host_addr(lip, 41001, "udp") == ""
    assert plan.decide(lip, 41001, "udp").action == "unsupported"


# ============================================================================================
# c) live: the simulator's host agent really forwards

def ha_pid(sim, name):
    with open(os.path.join(sim.instance_dir(name), "ha.pid")) as f:
        return int(f.read())


def ha_log(sim, name):
    with open(os.path.join(sim.instance_dir(name), "ha.stderr.log")) as f:
        return log_text(f.read())


def ha_events(sim, name):
    with open(os.path.join(sim.instance_dir(name), "ha.stdout.log")) as f:
        return [json.loads(ln)["status"].get("portForward") for ln in f if ln.strip()]


def bindings(pid):
    return {(b.proto, b.ip, b.port) for b in portfwd.process_bindings(pid)}


def wait_until(cond, timeout=5.0, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def _yaml(rules):
    return DEFAULT_YAML + "portForwards:\n" + "".join("- %s\n" % json.dumps(r) for r in rules)


@requires_sandbox
def test_live_dvm_rules_forward_only_listed_ports(tmp_path):
    sim = LimaSim(tmp_path)
    h = free_host_ports(6)
    listed = [  # (guest listener, host address of its rule)
        (("tcp", "0.0.0.0", 41001), ("127.0.0.1", h[0])),
        (("tcp", "::", 41002), ("0.0.0.0", h[1])),
        (("tcp", "127.0.0.1", 41003), ("127.0.0.1", h[2])),
        (("tcp", "::1", 41004), ("127.0.0.1", h[3])),
        (("udp", "0.0.0.0", 41005), ("0.0.0.0", h[4])),
        (("udp", "::1", 41006), ("127.0.0.1", h[5])),
    ]
    rules = [{"guestPort": g[2], "hostPort": hp, "hostIP": hip, "proto": g[0]} for g, (hip, hp) in listed]
    unlisted = [("tcp", ip, 41101 + i) for i, ip in enumerate(IPS)] + \
               [("udp", ip, 41105 + i) for i, ip in enumerate(IPS)] + \
               [("udp", "0.0.0.0", 41001)]  # a listed port, other protocol
    try:
        sim.create_instance("pf", _yaml(rules + [R_ANY, R_LO]), running=True)
        pid = ha_pid(sim, "pf")
        assert bindings(pid) == set()  # nothing before the guest listens
        servers = GuestServers(sim, "pf", [g for g, _ in listed] + unlisted)
        not_fwd = ["Not forwarding %s %s" % (p.upper(), portfwd.host_string(ip, port)) for p, ip, port in unlisted]
        wait_until(lambda: all(m in ha_log(sim, "pf") for m in not_fwd), what="the unlisted listeners")
        wildcard = {"tcp": "::", "udp": "::"}  # Go listens on 0.0.0.0 as dual-stack [::]
        expect = {(g[0], wildcard[g[0]] if hip == "0.0.0.0" else hip, hp) for g, (hip, hp) in listed}
        wait_until(lambda: bindings(pid) == expect, what="host bindings %s, have %s" % (expect, bindings(pid)))
        log = ha_log(sim, "pf")
        for (proto, ip, port), (hip, hp) in listed:
            assert "Forwarding %s from %s to %s:%d" % (proto.upper(), portfwd.host_string(ip, port), hip, hp) in log
        # configured ports answer on the configured host address ...
        for (proto, ip, port), (hip, hp) in listed:
            token = b"t%d" % port
            echo = tcp_echo if proto == "tcp" else udp_echo
            assert echo("127.0.0.1", hp, token) == b"echo:" + token, (proto, ip, port)
            if hip == "0.0.0.0":
                assert echo("::1", hp, token) == b"echo:" + token
            else:
                assert echo("::1", hp, token) is None  # bound to 127.0.0.1 only
        # ... and the unlisted ones on no host port (Lima's default rule would use the same number)
        for proto, ip, port in unlisted[:-1]:
            if proto == "tcp":
                assert tcp_echo("127.0.0.1", port, b"x") in (None, b"")
            else:
                assert udp_echo("127.0.0.1", port, b"x", timeout=0.5) is None
        assert {e["type"] for e in ha_events(sim, "pf") if e} == {"forwarding", "not-forwarding"}
        # a guest listener that goes away takes its host socket with it
        servers.stop()
        wait_until(lambda: bindings(pid) == set(), what="host sockets to close")
        assert sum(1 for e in ha_events(sim, "pf") if e and e["type"] == "stopping") == len(listed)
        assert free_for_all(h)
        # a stop closes the forwards of listeners that are still up
        servers = GuestServers(sim, "pf", [g for g, _ in listed])
        wait_until(lambda: bindings(pid) == expect, what="the forwards again")
        assert sim.run("stop", "pf", record=False).returncode == 0
        servers.stop()
        assert free_for_all(h)
    finally:
        sim.cleanup()
    assert sim.wait_no_processes() == []


@requires_sandbox
def test_live_static_rules_are_tcp_only_and_close_at_stop(tmp_path):
    """dvm's current rendering (static: true): TCP forwards exist from the start, dialled at guest
    127.0.0.1 (a ::1-only service is unreachable, audit R-1); UDP is never forwarded (BUG-1)."""
    sim = LimaSim(tmp_path)
    h = free_host_ports(3)
    rules = [{"guestPort": 41001, "hostPort": h[0], "hostIP": "127.0.0.1", "proto": "tcp", "static": True},
             {"guestPort": 41002, "hostPort": h[1], "hostIP": "0.0.0.0", "proto": "tcp", "static": True},
             {"guestPort": 41005, "hostPort": h[2], "hostIP": "127.0.0.1", "proto": "udp", "static": True},
             R_ANY, R_LO]
    static_tcp = {("tcp", "127.0.0.1", h[0]), ("tcp", "0.0.0.0", h[1])}  # `ssh -L 0.0.0.0:` is IPv4 only
    try:
        sim.create_instance("st", _yaml(rules), running=True)
        pid = ha_pid(sim, "st")
        assert bindings(pid) == static_tcp
        log = ha_log(sim, "st")
        assert "Setting up static TCP forwarding from 127.0.0.1:41001 to 127.0.0.1:%d" % h[0] in log
        assert "Setting up static TCP forwarding from 127.0.0.1:41002 to 0.0.0.0:%d" % h[1] in log
        assert "41005" not in log
        servers = GuestServers(sim, "st", [("tcp", "0.0.0.0", 41001), ("tcp", "::1", 41002),
                                           ("udp", "0.0.0.0", 41005), ("udp", "0.0.0.0", 41001),
                                           ("udp", "::1", 41108)])
        # the forwarder takes a batch of new listeners in sorted order: this one comes last
        wait_until(lambda: "Not forwarding UDP [::1]:41108" in ha_log(sim, "st"), what="the guest poll")
        assert bindings(pid) == static_tcp
        assert tcp_echo("127.0.0.1", h[0]) == b"echo:ping"
        assert tcp_echo("127.0.0.1", h[1]) == b""  # accepted on the host, refused at guest 127.0.0.1
        assert udp_echo("127.0.0.1", h[2], timeout=0.5) is None
        log = ha_log(sim, "st")
        assert "41005" not in log and "UDP 0.0.0.0:41001" not in log  # skipped silently (forward.go:52-54)
        servers.stop()
        assert sim.run("stop", "st", record=False).returncode == 0
        assert not os.path.exists("/proc/%d" % pid) or not _alive(pid)
        assert free_for_all(h)
        # again, with `stop --force` (SIGKILL of the host agent)
        sim.start("st")
        pid = ha_pid(sim, "st")
        assert bindings(pid) == static_tcp
        assert sim.run("stop", "-f", "st", record=False).returncode == 0
        assert free_for_all(h)
    finally:
        sim.cleanup()
    assert sim.wait_no_processes() == []


@requires_sandbox
def test_live_ssh_port_forwarder(tmp_path):
    """LIMA_SSH_PORT_FORWARDER=true in limactl's environment (the host agent inherits it):
    TCP through `ssh -L` (IPv4-only bind for 0.0.0.0), UDP not at all."""
    sim = LimaSim(tmp_path)
    h = free_host_ports(2)
    rules = [{"guestPort": 41001, "hostPort": h[0], "hostIP": "0.0.0.0", "proto": "tcp"},
             {"guestPort": 41005, "hostPort": h[1], "hostIP": "127.0.0.1", "proto": "udp"}, R_ANY, R_LO]
    try:
        sim.run("--tty=false", "create", "--name", "ssh", "-", stdin=_yaml(rules), record=False, check=True)
        sim.run("--tty=false", "start", "ssh", env=sim.env(LIMA_SSH_PORT_FORWARDER="true"), record=False,
                check=True)
        pid = ha_pid(sim, "ssh")
        servers = GuestServers(sim, "ssh", [("udp", "0.0.0.0", 41005), ("tcp", "::1", 41104),
                                            ("tcp", "0.0.0.0", 41001)])
        wait_until(lambda: bindings(pid) == {("tcp", "0.0.0.0", h[0])}, what="the TCP forward")
        wait_until(lambda: "Not forwarding TCP [::1]:41104" in ha_log(sim, "ssh"), what="the guest poll")
        assert tcp_echo("127.0.0.1", h[0]) == b"echo:ping"
        assert udp_echo("127.0.0.1", h[1], timeout=0.5) is None
        servers.stop()
        wait_until(lambda: "Stopping forwarding TCP from 0.0.0.0:41001 to 0.0.0.0:%d" % h[0] in ha_log(sim, "ssh"),
                   what="the stop message")
        wait_until(lambda: bindings(pid) == set(), what="the host socket to close")
        assert "UDP" not in ha_log(sim, "ssh")
    finally:
        sim.cleanup()
    assert sim.wait_no_processes() == []


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rfind(")") + 2] not in "ZX"
    except OSError:
        return False
