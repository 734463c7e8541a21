"""Lima's port forwarding: rule resolution ported from upstream, and the live forwarder the host
agent runs for a sandboxed guest.

Upstream references are `upstream/<path>:<line>` in Lima commit 183a60d7 (shared/lima/upstream).

Resolution (pure functions, reusable by tests):
  * `fill_port_forward_defaults(rule)`       upstream/pkg/limayaml/defaults.go:991-1041
  * `port_forward_rules(inst_rules, ssh_port)` upstream/pkg/hostagent/port.go:36-51
  * `forwarding_addresses(rules, ip, port, proto, forwarder)`
        "grpc": upstream/pkg/portfwd/forward.go:100-131 (the default forwarder)
        "ssh":  upstream/pkg/hostagent/port.go:84-117 (LIMA_SSH_PORT_FORWARDER=true; TCP only)
  * `host_address(rule, port)`               upstream/pkg/portfwd/forward.go:145-157, port.go:70-82
  * `Plan`: the whole decision for one instance (static forwards + per-listener decisions).

A rule is a dict with lima.yaml keys (guestIP, guestIPMustBeZero, guestPort, guestPortRange, hostIP,
hostPort, hostPortRange, proto, ignore, static, guestSocket, hostSocket, reverse).
"""

import collections
import concurrent.futures
import ctypes
import errno
import ipaddress
import os
import queue
import select
import socket
import threading
import time

PROTO_TCP = "tcp"
PROTO_UDP = "udp"
PROTO_ANY = "any"
IPV4_LOOPBACK1 = "127.0.0.1"  # upstream/pkg/limayaml/defaults.go:55
SSH_GUEST_PORT = 22           # upstream/pkg/hostagent/port.go:29

FORWARDER_GRPC = "grpc"
FORWARDER_SSH = "ssh"


# --------------------------------------------------------------------------------------------
# IP helpers with Go's net.IP semantics


def parse_ip(s):
    """net.ParseIP, with IPv4-mapped IPv6 folded to IPv4 (Go's IP.Equal treats them as equal and
    IP.String prints them dotted). None for None/""; ValueError for garbage."""
    if s is None or s == "":
        return None
    ip = ipaddress.ip_address(str(s))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def ip_string(ip):
    """net.IP.String()."""
    return str(parse_ip(str(ip)))


def host_string(ip, port):
    """net.JoinHostPort(ip, port) (api.IPPort.HostString)."""
    s = ip_string(ip)
    return "[%s]:%d" % (s, port) if ":" in s else "%s:%d" % (s, port)


def split_host_port(addr):
    """Inverse of host_string: ("ip", port)."""
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


# --------------------------------------------------------------------------------------------
# Rules


def fill_port_forward_defaults(rule, inst_dir=""):
    """FillPortForwardDefaults (upstream/pkg/limayaml/defaults.go:991-1041) on a copy of `rule`.
    guestSocket/hostSocket templates are not rendered (the simulator forwards no sockets); a
    relative hostSocket is still anchored in <instDir>/sock (defaults.go:1030-1032)."""
    r = dict(rule or {})
    if not r.get("proto"):
        r["proto"] = PROTO_ANY                                             # :992-994
    if not r.get("guestIP"):                                               # :995-1001
        r["guestIP"] = "0.0.0.0" if r.get("guestIPMustBeZero") is True else IPV4_LOOPBACK1
    if r.get("guestIPMustBeZero") is None:                                 # :1002-1004
        r["guestIPMustBeZero"] = parse_ip(r["guestIP"]) == parse_ip("0.0.0.0")
    if not r.get("hostIP"):                                                # :1005-1007
        r["hostIP"] = IPV4_LOOPBACK1
    gr = list(r.get("guestPortRange") or [0, 0])
    if gr == [0, 0]:                                                       # :1008-1016
        gp = int(r.get("guestPort") or 0)
        gr = [1, 65535] if gp == 0 else [gp, gp]
    r["guestPortRange"] = gr
    if r.get("hostSocket"):                                                # :1024-1032
        if not os.path.isabs(r["hostSocket"]):
            r["hostSocket"] = os.path.join(inst_dir, "sock", r["hostSocket"])
    else:
        hr = list(r.get("hostPortRange") or [0, 0])
        if hr == [0, 0]:                                                   # :1033-1040
            hp = int(r.get("hostPort") or 0)
            hr = list(gr) if hp == 0 else [hp, hp]
        r["hostPortRange"] = hr
    for k in ("ignore", "static", "reverse"):
        r[k] = bool(r.get(k))
    return r


def from_filled(rule, inst_dir=""):
    """A rule as the simulator's store.fill_port_forward shows it (which leaves out false
    booleans) made complete: an absent guestIPMustBeZero there means false."""
    r = dict(rule)
    r.setdefault("guestIPMustBeZero", False)
    return fill_port_forward_defaults(r, inst_dir)


def port_forward_rules(inst_rules, ssh_local_port, inst_dir=""):
    """The rule list both forwarders walk (upstream/pkg/hostagent/port.go:36-51): ignore rules for
    guest port 22 and for the host's sshLocalPort on every guest IP (guestIPMustBeZero explicitly
    false, port.go:39-43), the instance rules, then the implicit default rule (guest 127.0.0.1,
    ports 1-65535 -> host 127.0.0.1, same port, proto any)."""
    rules = []
    for port in (SSH_GUEST_PORT, ssh_local_port):
        rules.append(fill_port_forward_defaults({"guestIP": "0.0.0.0", "guestIPMustBeZero": False,
                                                 "guestPort": port, "ignore": True}, inst_dir))
    rules += [fill_port_forward_defaults(r, inst_dir) for r in inst_rules]
    rules.append(fill_port_forward_defaults({}, inst_dir))
    return rules


def ignore_flags(inst_rules, messages=None):
    """(ignoreTCP, ignoreUDP): only a leading run of 1-65535 ignore rules switches the "Not
    forwarding" messages off (upstream/pkg/hostagent/hostagent.go:230-249). Lima's info lines
    for them are appended to `messages`."""
    tcp = udp = False
    msgs = messages if messages is not None else []
    for r in inst_rules:
        if r.get("ignore") and list(r.get("guestPortRange") or []) == [1, 65535]:
            p = r.get("proto")
            if p == PROTO_TCP:
                tcp = True
                msgs.append("TCP port forwarding is disabled (except for SSH)")
            elif p == PROTO_UDP:
                udp = True
                msgs.append("UDP port forwarding is disabled")
            elif p == PROTO_ANY:
                tcp = udp = True
                msgs.append("TCP (except for SSH) and UDP port forwarding is disabled")
        else:
            break
    return tcp, udp


def separate_static(inst_rules):
    """(static, non_static) (upstream/pkg/hostagent/hostagent.go:869-890)."""
    return [r for r in inst_rules if r.get("static")], [r for r in inst_rules if not r.get("static")]


def host_address(rule, guest_port):
    """upstream/pkg/portfwd/forward.go:145-157 (same as hostagent/port.go:70-82)."""
    if rule.get("hostSocket"):
        return rule["hostSocket"]
    if guest_port == 0:  # guest is a socket
        port = int(rule.get("hostPort") or 0)
    else:
        port = guest_port + (rule["hostPortRange"][0] - rule["guestPortRange"][0])
    return host_string(rule["hostIP"], port)


def forwarding_addresses(rules, ip, port, proto, forwarder=FORWARDER_GRPC):
    """(hostAddr, guestAddr) for a guest listener; hostAddr "" = not forwarded.

    grpc: upstream/pkg/portfwd/forward.go:100-131 (rule proto must be `any` or the listener's).
    ssh:  upstream/pkg/hostagent/port.go:84-117 (rules other than tcp/any are skipped, whatever
          the listener's protocol)."""
    guest_ip = parse_ip(ip)
    guest_addr = host_string(guest_ip, port)
    for rule in rules:
        if rule.get("guestSocket"):
            continue
        if forwarder == FORWARDER_SSH:
            if rule["proto"] not in (PROTO_TCP, PROTO_ANY):          # port.go:90-94
                continue
        elif rule["proto"] != PROTO_ANY and rule["proto"] != proto:  # forward.go:106-108
            continue
        lo, hi = rule["guestPortRange"]
        if port < lo or port > hi:                                   # forward.go:109-111
            continue
        rule_ip = parse_ip(rule["guestIP"])
        if guest_ip.is_unspecified:                                  # forward.go:113
            pass
        elif guest_ip == rule_ip:                                    # forward.go:114
            pass
        elif guest_ip == ipaddress.IPv6Address("::1") and rule_ip == parse_ip(IPV4_LOOPBACK1):  # :115
            pass
        elif rule_ip.is_unspecified and not rule["guestIPMustBeZero"]:  # forward.go:116-118
            pass
        else:
            continue
        if rule.get("ignore"):                                       # forward.go:122-127
            if guest_ip.is_unspecified and not rule_ip.is_unspecified:
                continue
            break
        return host_address(rule, port), guest_addr                  # forward.go:128
    return "", guest_addr


def is_port_statically_forwarded(rules, port):
    """Any static rule covering the port, whatever its protocol (upstream/pkg/portfwd/forward.go:133-143)."""
    return any(r.get("static") and r["guestPortRange"][0] <= port <= r["guestPortRange"][1] for r in rules)


def parse_bool(s):
    """Go's strconv.ParseBool."""
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError('strconv.ParseBool: parsing "%s": invalid syntax' % s)


def forwarder_for_env(value):
    """(forwarder, warning or None) from LIMA_SSH_PORT_FORWARDER (upstream/pkg/hostagent/hostagent.go:954-975)."""
    if not value:
        return FORWARDER_GRPC, None
    try:
        return (FORWARDER_SSH if parse_bool(value) else FORWARDER_GRPC), None
    except ValueError as e:
        return FORWARDER_GRPC, "invalid LIMA_SSH_PORT_FORWARDER value `%s`: %s" % (value, e)


Decision = collections.namedtuple("Decision", "action host_addr guest_addr")
# action: "forward" | "not-forwarding" | "static" (skipped: a static rule covers the port) |
#         "unsupported" (the SSH forwarder ignores UDP listeners)


class Plan:
    """Everything Lima decides for one instance, given its effective (filled or raw) portForwards.

        plan = Plan(cfg["portForwards"], ssh_local_port=60022)
        plan.static_forwards()                  -> [("127.0.0.1:3000", "127.0.0.1:3000"), ...]
        plan.decide("0.0.0.0", 3000, "tcp")     -> Decision("static"|"forward"|..., host, guest)
        plan.host_addr("::1", 8080, "udp")      -> "127.0.0.1:8080" or "" (not forwarded by any path)
    """

    def __init__(self, inst_rules, ssh_local_port=0, forwarder=FORWARDER_GRPC, inst_dir="", plain=False):
        inst = [fill_port_forward_defaults(r, inst_dir) for r in (inst_rules or [])]
        if plain:  # upstream/pkg/limayaml/defaults.go:915-935: plain mode keeps static rules only
            inst = [r for r in inst if r["static"]]
        self.plain = plain
        self.inst_rules = inst
        self.forwarder = forwarder
        self.rules = port_forward_rules(inst, ssh_local_port, inst_dir)  # hostagent.go:250
        self.messages = []
        self.ignore_tcp, self.ignore_udp = ignore_flags(inst, self.messages)
        self.static_rules, _ = separate_static(inst)

    def static_forwards(self):
        """(hostAddr, guestAddr) TCP forwards set up once at start (upstream/pkg/hostagent/hostagent.go:849-866):
        each static rule is looked up as guest {rule.guestIP, rule.guestPort} through the SSH
        forwarder's first-match walk; the result may come from another rule, or be empty."""
        out = []
        for rule in self.static_rules:
            if rule.get("guestSocket"):
                continue
            local, remote = forwarding_addresses(self.rules, rule["guestIP"], int(rule.get("guestPort") or 0),
                                                 rule["proto"], FORWARDER_SSH)
            if local:
                out.append((local, remote))
        return out

    def decide(self, ip, port, proto):
        """What the dynamic forwarder does when the guest reports a new listener."""
        if self.plain:
            return Decision("not-forwarding", "", host_string(ip, port))  # no guest agent in plain mode
        if self.forwarder == FORWARDER_SSH:
            if proto != PROTO_TCP:                       # upstream/pkg/hostagent/port.go:140-143
                return Decision("unsupported", "", host_string(ip, port))
        elif is_port_statically_forwarded(self.rules, port):  # upstream/pkg/portfwd/forward.go:52-54
            return Decision("static", "", host_string(ip, port))
        local, remote = forwarding_addresses(self.rules, ip, port, proto, self.forwarder)
        return Decision("forward" if local else "not-forwarding", local, remote)

    def host_addr(self, ip, port, proto):
        """The host address through which a guest listener is reachable, or "": its dynamic
        forward, else a static TCP forward whose dial reaches it."""
        d = self.decide(ip, port, proto)
        if d.action == "forward":
            return d.host_addr
        if proto == PROTO_TCP:
            for local, remote in self.static_forwards():
                rip, rport = split_host_port(remote)
                if rport == port and dial_reaches(rip, ip):
                    return local
        return ""


def dial_reaches(dial_ip, listener_ip):
    """Does a connection to dial_ip (inside the guest) reach a socket listening on listener_ip?
    Linux dials an unspecified address as loopback; a [::] listener is taken as dual-stack."""
    d, lst = parse_ip(dial_ip), parse_ip(listener_ip)
    if d.is_unspecified:
        d = parse_ip("::1") if d.version == 6 else parse_ip(IPV4_LOOPBACK1)
    if d == lst:
        return True
    if lst.is_unspecified:
        return lst.version == 6 or d.version == 4
    return False


# --------------------------------------------------------------------------------------------
# Guest listeners, as Lima's guest agent reports them


TCP_LISTEN = 0x0A        # upstream pkg/guestagent/procnettcp: TCPListen
UDP_UNCONNECTED = 0x07   # TCP_CLOSE, an unconnected (bound) UDP socket
Listener = collections.namedtuple("Listener", "proto ip port")


def _decode_addr(s):
    hexip, hexport = s.split(":")
    raw = bytes.fromhex(hexip)
    # each 32-bit word is in host (little-endian) order
    b = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)) if socket.htonl(1) != 1 else raw
    return ip_string(ipaddress.ip_address(b)), int(hexport, 16)


def _proc_net_entries(text, proto):
    """(Listener, inode) for the TCP LISTEN / unconnected UDP sockets of one /proc/net file."""
    lines = text.splitlines()
    if not lines:
        return
    head = lines[0].split()
    li, si = head.index("local_address"), head.index("st")
    # data rows join "tx_queue:rx_queue" and "tr:tm->when", which the header names separately
    ii = head.index("inode") - 2 if "inode" in head else 9
    want = TCP_LISTEN if proto == PROTO_TCP else UDP_UNCONNECTED
    for ln in lines[1:]:
        f = ln.split()
        if len(f) <= max(li, si, ii) or int(f[si], 16) != want:
            continue
        ip, port = _decode_addr(f[li])
        yield Listener(proto, ip, port), f[ii]


def parse_proc_net(text, proto):
    """Listeners in one /proc/net/{tcp,tcp6,udp,udp6} text: TCP in LISTEN, UDP unconnected
    (guest agent LocalPorts, lima pkg/guestagent/guestagent_linux.go)."""
    return [lst for lst, _ in _proc_net_entries(text, proto)]


_PROC_NET_FILES = (("tcp", PROTO_TCP), ("tcp6", PROTO_TCP), ("udp", PROTO_UDP), ("udp6", PROTO_UDP))


def _read_proc_net(proc_net_dir):
    for name, proto in _PROC_NET_FILES:
        try:
            with open(os.path.join(proc_net_dir, name)) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        yield from _proc_net_entries(text, proto)


def local_ports(proc_net_dir):
    """Set of Listener for a network namespace (proc_net_dir = /proc/<pid>/net)."""
    return {lst for lst, _ in _read_proc_net(proc_net_dir)}


def process_bindings(pid):
    """Set of Listener (TCP listening / UDP bound) that process `pid` holds open in its own
    (main thread's) network namespace -- for the host agent: exactly its host-side ports."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return {lst for lst, inode in _read_proc_net("/proc/%d/net" % pid) if inode in inodes}


# --------------------------------------------------------------------------------------------
# Live forwarding (host agent)

CLONE_NEWNET = 0x40000000
UDP_CONNTRACK_TIMEOUT = 90.0  # gvisor-tap-vsock UDPProxy, used by upstream/pkg/portfwd/client.go:28-45
POLL_INTERVAL = 0.25


class GuestNet:
    """Creates sockets inside the guest's network namespace: one thread that setns()es into it
    and then only makes sockets (a socket stays in the namespace it was created in)."""

    def __init__(self, pid):
        self.requests = queue.Queue()
        ready = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, args=(pid, ready), name="guestnet", daemon=True)
        self.thread.start()
        ready.result(timeout=10)

    def _run(self, pid, ready):
        try:
            fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns(net of pid %d): %s" % (pid, os.strerror(e)))
            finally:
                os.close(fd)
        except Exception as e:  # noqa: BLE001 - reported to the constructor
            ready.set_exception(e)
            return
        ready.set_result(True)
        while True:
            req = self.requests.get()
            if req is None:
                return
            family, kind, fut = req
            try:
                fut.set_result(socket.socket(family, kind))
            except OSError as e:
                fut.set_exception(e)

    def socket(self, family, kind):
        fut = concurrent.futures.Future()
        self.requests.put((family, kind, fut))
        return fut.result(timeout=10)

    def close(self):
        self.requests.put(None)


def _family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def _bind_host_socket(kind, host_addr, style):
    """A host socket bound like the real forwarder would.

    style "go" (gRPC forwarder: net.ListenConfig with SO_REUSEADDR, upstream pkg/portfwd/
    control_others.go): Go listens on an unspecified address (0.0.0.0 or ::) with one dual-stack
    IPv6 socket (net.favoriteAddrFamily), so hostIP 0.0.0.0 also takes [::]:port.
    style "ssh" (`ssh -O forward -L`): one socket of the address's own family, IPv6 V6ONLY."""
    ip, port = split_host_port(host_addr)
    pip = parse_ip(ip)
    fam = _family(ip)
    bind_ip = ip
    if style == "go" and pip.is_unspecified and socket.has_ipv6:
        fam, bind_ip = socket.AF_INET6, "::"
    s = socket.socket(fam, kind)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if (style == "go" and pip.is_unspecified) else 1)
        s.bind((bind_ip, port))
        if kind == socket.SOCK_STREAM:
            s.listen(128)
    except OSError:
        s.close()
        raise
    return s


class _Forward:
    """One host socket relaying to one guest address; a thread owns it until close()."""

    def __init__(self, fw, kind, host_addr, guest_addr, style):
        self.fw = fw
        self.host_addr = host_addr
        self.guest_addr = guest_addr
        self.sock = _bind_host_socket(kind, host_addr, style)
        self.wake_r, self.wake_w = socket.socketpair()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._guarded, name="fwd " + host_addr, daemon=True)
        self.thread.start()

    def _guarded(self):
        try:
            self.serve()
        except Exception as e:  # noqa: BLE001 - a relay failure must not take the host agent down
            if not self.closed.is_set():
                self.fw.log("error", "port forwarder for %s stopped: %s" % (self.host_addr, e))
        finally:
            self.sock.close()
            self.wake_r.close()

    def close(self):
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass
        self.thread.join(5)
        self.wake_w.close()

    def guest_socket(self, kind):
        ip, port = split_host_port(self.guest_addr)
        s = self.fw.guest_net.socket(_family(ip), kind)
        return s, (ip, port)


class TCPForward(_Forward):
    def __init__(self, fw, host_addr, guest_addr, style):
        super().__init__(fw, socket.SOCK_STREAM, host_addr, guest_addr, style)

    def serve(self):
        while not self.closed.is_set():
            r, _, _ = select.select([self.sock, self.wake_r], [], [])
            if self.wake_r in r:
                return
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._relay, args=(conn,), name="tcp " + self.guest_addr, daemon=True).start()

    def _relay(self, conn):
        # Like tcpproxy.DialProxy (upstream/pkg/portfwd/client.go:22-26): dial the guest address
        # as reported, copy both ways, pass half-closes on.
        try:
            guest, addr = self.guest_socket(socket.SOCK_STREAM)
        except OSError as e:
            self.fw.log("debug", "tcp proxy for guestAddr: %s: %s" % (self.guest_addr, e))
            conn.close()
            return
        try:
            guest.settimeout(10)
            guest.connect(addr)
            guest.settimeout(None)
        except OSError as e:
            self.fw.log("debug", "tcp proxy for guestAddr: %s: dial failed: %s" % (self.guest_addr, e))
            guest.close()
            conn.close()
            return
        self.fw.track(conn, guest)
        try:
            _pump(conn, guest)
        finally:
            self.fw.untrack(conn, guest)
            conn.close()
            guest.close()


def _pump(a, b):
    peer = {a: b, b: a}
    open_ = [a, b]
    while open_:
        r, _, _ = select.select(open_, [], [])
        for s in r:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                open_.remove(s)
                try:
                    peer[s].shutdown(socket.SHUT_WR)
                except OSError:
                    return
                continue
            try:
                peer[s].sendall(data)
            except OSError:
                return


class UDPForward(_Forward):
    """gvisor-tap-vsock's UDPProxy: one guest-side connected socket per client address, replies
    go back to that client, idle entries expire after 90 s."""

    def __init__(self, fw, host_addr, guest_addr, style):
        super().__init__(fw, socket.SOCK_DGRAM, host_addr, guest_addr, style)

    def serve(self):
        clients = {}   # client addr -> [guest socket, last use]
        by_sock = {}
        try:
            while not self.closed.is_set():
                r, _, _ = select.select([self.sock, self.wake_r] + list(by_sock), [], [], 5.0)
                if self.wake_r in r:
                    return
                now = time.monotonic()
                if self.sock in r:
                    try:
                        data, client = self.sock.recvfrom(65536)
                    except OSError:
                        data = None
                    if data is not None:
                        ent = clients.get(client)
                        if ent is None:
                            try:
                                g, addr = self.guest_socket(socket.SOCK_DGRAM)
                                g.connect(addr)
                            except OSError as e:
                                self.fw.log("debug", "udp proxy for guestAddr: %s: %s" % (self.guest_addr, e))
                                continue
                            ent = clients[client] = [g, now]
                            by_sock[g] = client
                        ent[1] = now
                        try:
                            ent[0].send(data)
                        except OSError:
                            pass
                for g in [s for s in r if s in by_sock]:
                    client = by_sock[g]
                    try:
                        data = g.recv(65536)
                        self.sock.sendto(data, client)
                        clients[client][1] = now
                    except OSError:
                        pass
                for client, (g, last) in list(clients.items()):
                    if now - last > UDP_CONNTRACK_TIMEOUT:
                        g.close()
                        del clients[client]
                        del by_sock[g]
        finally:
            for g in by_sock:
                g.close()


class LiveForwarder:
    """What the host agent runs: static TCP forwards at start, then the guest-agent-like poll of
    the guest's listeners feeding the selected dynamic forwarder.

    log(level, msg, **fields) and emit(portForwardEvent dict) are the host agent's outputs."""

    def __init__(self, plan, guest_pid, log, emit):
        self.plan = plan
        self.guest_pid = guest_pid
        self.log = log
        self.emit = emit
        self.guest_net = GuestNet(guest_pid)
        self.proc_net = "/proc/%d/net" % guest_pid
        self.lock = threading.RLock()
        self.grpc = {}   # (proto, host, guest) -> _Forward   (ClosableListeners, pkg/portfwd/listener.go)
        self.ssh = {}    # (host, guest) -> TCPForward         (`ssh -O forward -L` of the SSH master)
        self.conns = set()
        self.known = set()
        self.stop_event = threading.Event()
        self.thread = None

    # -- static forwards (upstream/pkg/hostagent/hostagent.go:849-866) -------------------------
    def start_static(self):
        for local, remote in self.plan.static_forwards():
            self.log("info", "Setting up static TCP forwarding from %s to %s" % (remote, local))
            err = self._ssh_forward(local, remote)
            if err:
                self.log("warning", "failed to set up static TCP forwarding %s -> %s" % (remote, local), error=err)

    def _ssh_forward(self, local, remote):
        """`ssh -O forward -L local:remote`: an identical forward is a no-op; a taken port fails."""
        with self.lock:
            if (local, remote) in self.ssh:
                return None
            try:
                self.ssh[(local, remote)] = TCPForward(self, local, remote, "ssh")
            except OSError as e:
                return "Port forwarding failed: %s" % e.strerror
        return None

    def _ssh_cancel(self, local, remote):
        with self.lock:
            fwd = self.ssh.pop((local, remote), None)
        if fwd is None:
            return "port forwarding not found"
        fwd.close()
        return None

    # -- guest agent events -------------------------------------------------------------------
    def start(self):
        """Static forwards, one synchronous poll, then the polling thread."""
        self.start_static()
        if self.plan.plain:
            return
        self.poll()
        self.thread = threading.Thread(target=self._loop, name="guest-agent-events", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_event.wait(POLL_INTERVAL):
            try:
                self.poll()
            except OSError:
                return  # the guest's namespace is gone; the host agent is tearing down

    def poll(self):
        now = local_ports(self.proc_net)
        added = sorted(now - self.known)
        removed = sorted(self.known - now)
        self.known = now
        if added or removed:
            self.on_event(added, removed)

    def on_event(self, added, removed):
        if self.plan.forwarder == FORWARDER_SSH:
            self._on_event_ssh(added, removed)
        else:
            self._on_event_grpc(added, removed)

    def _on_event_grpc(self, added, removed):
        # upstream/pkg/portfwd/forward.go:49-98
        for f in added:
            if is_port_statically_forwarded(self.plan.rules, f.port):
                continue
            local, remote = forwarding_addresses(self.plan.rules, f.ip, f.port, f.proto, FORWARDER_GRPC)
            if not local:
                if (f.proto == PROTO_TCP and not self.plan.ignore_tcp) or \
                        (f.proto == PROTO_UDP and not self.plan.ignore_udp):
                    self.log("info", "Not forwarding %s %s" % (f.proto.upper(), remote))
                    self.emit({"type": "not-forwarding", "protocol": f.proto, "guestAddr": remote})
                continue
            self.log("info", "Forwarding %s from %s to %s" % (f.proto.upper(), remote, local))
            self.emit({"type": "forwarding", "protocol": f.proto, "guestAddr": remote, "hostAddr": local})
            self._grpc_forward(f.proto, local, remote)
        for f in removed:
            local, remote = forwarding_addresses(self.plan.rules, f.ip, f.port, f.proto, FORWARDER_GRPC)
            if not local:
                continue
            self.emit({"type": "stopping", "protocol": f.proto, "guestAddr": remote, "hostAddr": local})
            with self.lock:
                fwd = self.grpc.pop((f.proto, local, remote), None)
            if fwd is not None:
                fwd.close()
            self.log("debug", "Port forwarding closed proto:%s host:%s guest:%s" % (f.proto, local, remote))

    def _grpc_forward(self, proto, local, remote):
        # upstream pkg/portfwd/listener.go forwardTCP/forwardUDP: one listener per key, listen
        # errors go through logListenError.
        key = (proto, local, remote)
        with self.lock:
            if key in self.grpc:
                return
            try:
                cls = TCPForward if proto == PROTO_TCP else UDPForward
                self.grpc[key] = cls(self, local, remote, "go")
            except OSError as e:
                self._log_listen_error(e, proto, local)

    def _log_listen_error(self, err, proto, host_addr):
        port = host_addr.rpartition(":")[2]
        reason = ""
        if port == "53":
            reason = "DNS port (often conflicts with the system resolver)"
        elif proto == PROTO_UDP and port == "323":
            reason = "NTP port (often conflicts with the system NTP server)"
        elif proto == PROTO_UDP and port == "5353":
            reason = "mDNS port (often conflicts with the system mDNS responder)"
        elif proto == PROTO_UDP and port == "5355":
            reason = "LLMNR port (often conflicts with the system LLMNR responder)"
        if err.errno == errno.EACCES:
            reason = "privileged port"
        text = "listen %s %s: bind: %s" % (proto, host_addr, (err.strerror or str(err)).lower())
        if reason:
            self.log("debug", "failed to listen %s: %s" % (proto, host_addr), error=text, **{"negligible-reason": reason})
            self.log("info", "Not forwarding %s %s" % (proto.upper(), host_addr))
            return
        self.log("warning", "failed to listen %s: %s" % (proto, host_addr), error=text)

    def _on_event_ssh(self, added, removed):
        # upstream/pkg/hostagent/port.go:119-167: TCP only, removals first, no static check.
        for f in removed:
            if f.proto != PROTO_TCP:
                continue
            local, remote = forwarding_addresses(self.plan.rules, f.ip, f.port, f.proto, FORWARDER_SSH)
            if not local:
                continue
            self.log("info", "Stopping forwarding TCP from %s to %s" % (remote, local))
            self.emit({"type": "stopping", "protocol": "tcp", "guestAddr": remote, "hostAddr": local})
            err = self._ssh_cancel(local, remote)
            if err:
                self.log("warning", "failed to stop forwarding tcp port %d" % f.port, error=err)
        for f in added:
            if f.proto != PROTO_TCP:
                continue
            local, remote = forwarding_addresses(self.plan.rules, f.ip, f.port, f.proto, FORWARDER_SSH)
            if not local:
                if not self.plan.ignore_tcp:
                    self.log("info", "Not forwarding TCP %s" % remote)
                    self.emit({"type": "not-forwarding", "protocol": "tcp", "guestAddr": remote})
                continue
            self.log("info", "Forwarding TCP from %s to %s" % (remote, local))
            self.emit({"type": "forwarding", "protocol": "tcp", "guestAddr": remote, "hostAddr": local})
            err = self._ssh_forward(local, remote)
            if err:
                self.log("warning", "failed to set up forwarding tcp port %d (negligible if already forwarded)"
                         % f.port, error=err)

    # -- connections and shutdown -------------------------------------------------------------
    def track(self, *socks):
        with self.lock:
            self.conns.update(socks)

    def untrack(self, *socks):
        with self.lock:
            self.conns.difference_update(socks)

    def close(self):
        """Close every host socket (ClosableListeners.Close and the SSH master's exit) and the
        connections in flight."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)
        with self.lock:
            fwds = list(self.grpc.values()) + list(self.ssh.values())
            self.grpc.clear()
            self.ssh.clear()
            conns = list(self.conns)
        for f in fwds:
            f.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.guest_net.close()
