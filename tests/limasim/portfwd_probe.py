"""Helpers for tests that check port forwarding end to end: echo servers in a guest, and host
ports that are free right now (used by test_portfwd.py and tests/e2e/test_attack_ports.py)."""

import socket
import subprocess

GUEST_SERVER = r'''
import socket, sys
socks = []
for spec in sys.argv[1:]:
    proto, ip, port = spec.split("/")
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port)))
    if proto == "tcp":
        s.listen(16)
    s.setblocking(False)
    socks.append((proto, s))
print("ready", flush=True)
import select
by_fd = {s.fileno(): (p, s) for p, s in socks}
while True:
    r, _, _ = select.select([sys.stdin] + [s for _, s in socks], [], [])
    for x in r:
        if x is sys.stdin:
            if not sys.stdin.buffer.read1(100):
                sys.exit(0)
            continue
        proto, s = by_fd[x.fileno()]
        try:
            if proto == "tcp":
                c, _ = s.accept()
                c.setblocking(True)
                c.settimeout(5)
                c.sendall(b"echo:" + c.recv(100))
                c.close()
            else:
                d, a = s.recvfrom(100)
                s.sendto(b"echo:" + d, a)
        except OSError:
            pass
'''


class GuestServers:
    """Echo servers in the guest, alive while our `limactl shell` runs; closing its stdin ends them.
    `specs` are (proto, ip, port). `command`/`env` start the guest side another way (e.g.
    `dvm ssh NAME --`): the default is the simulator's own `limactl shell`."""

    def __init__(self, sim, name, specs, command=None, env=None):
        path = sim.guest_path(name, "/var/tmp/limasim-pf-server.py")
        with open(path, "w") as f:
            f.write(GUEST_SERVER)
        command = command or [sim.limactl, "shell", "--workdir", "/", name]
        self.proc = subprocess.Popen(command + ["python3", "/var/tmp/limasim-pf-server.py"] +
                                     ["%s/%s/%d" % s for s in specs],
                                     env=env or sim.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        line = self.proc.stdout.readline()
        assert line == b"ready\n", (line, self.proc.stderr.read() if self.proc.poll() is not None else b"")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def free_host_ports(n):
    """n distinct ports free for TCP and UDP on every host address right now."""
    ports, held = [], []
    while len(ports) < n:
        t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        t.bind(("::", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            u.bind(("::", port))
        except OSError:
            t.close()
            u.close()
            continue
        held += [t, u]
        ports.append(port)
    for s in held:
        s.close()
    return ports


def _client(fam, kind, port):
    """A socket on an ephemeral port other than `port`: a client the kernel gave the target port
    itself would connect to itself (TCP simultaneous open, UDP to its own address) and read its
    own token back as if something answered."""
    while True:
        s = socket.socket(fam, kind)
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 0))
        if s.getsockname()[1] != port:
            return s
        s.close()


def tcp_echo(host, port, token=b"ping"):
    """The echo through host:port, b"" when the connection is closed, None when refused."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with _client(fam, socket.SOCK_STREAM, port) as c:
        c.settimeout(3)
        try:
            c.connect((host, port))
        except ConnectionRefusedError:
            return None
        c.sendall(token)
        try:
            return c.recv(100)
        except (ConnectionResetError, socket.timeout):
            return b""


def udp_echo(host, port, token=b"ping", timeout=2.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with _client(fam, socket.SOCK_DGRAM, port) as u:
        u.settimeout(timeout)
        u.connect((host, port))  # connected: a closed port answers ECONNREFUSED at once
        try:
            u.send(token)
            return u.recv(100)
        except (socket.timeout, ConnectionRefusedError):
            return None


def free_for_all(ports):
    """Raises if anything still listens on / binds one of the ports on any host address."""
    for p in ports:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET6, kind) as s:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                if kind == socket.SOCK_STREAM:  # ignore our own test connections in TIME_WAIT
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::", p))
                if kind == socket.SOCK_STREAM:
                    s.listen(1)
    return True
