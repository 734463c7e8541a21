"""The host agent (`limactl hostagent NAME`, hidden): one detached process per running instance.

It owns the guest sandbox ("driver" = the bwrap PID-1 reaper, written to `qemu.pid`), boots
the guest, reports events on stdout (`ha.stdout.log`, JSON lines like Lima's) and logs on
stderr (`ha.stderr.log`, logrus JSON).  It exits, taking the guest down with it, on SIGINT/
SIGTERM (graceful stop), when its instance directory or `ha.pid` disappears (deleted temp
LIMA_HOME), or when the sandbox dies.

With the sandbox on it also forwards guest ports like Lima (portfwd.py): static TCP forwards at
start, then the guest's listeners (polled from /proc/<guest pid>/net, as Lima's guest agent
reports them) through the gRPC forwarder, or the SSH one when LIMA_SSH_PORT_FORWARDER is true.
All host sockets live in this process, so they close when it ends.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from . import log as logmod
from . import portfwd, sandbox, store


class Agent:
    def __init__(self, sim, name):
        self.sim = sim
        self.name = name
        self.dir = sim.inst_dir(name)
        self.pid = os.getpid()
        self.bwrap = None
        self.init_pid = 0
        self.holder_pid = 0
        self.driver = None
        self.port = 0
        self.vm_type = "qemu"
        self.out_lock = threading.Lock()  # forwarder threads log and emit events too
        self.status = {}
        self.forwarder = None

    # -- output ---------------------------------------------------------------------------------
    def log(self, level, msg, **fields):
        with self.out_lock:
            sys.stderr.write(logmod.json_record(level, msg, **fields) + "\n")
            sys.stderr.flush()

    def event(self, **status):
        st = {"running": False, "degraded": False, "exiting": False}
        st.update(status)
        if self.port:
            st.setdefault("sshLocalPort", self.port)
        with self.out_lock:
            self.status = st
            self._write_event(st)

    def port_forward_event(self, pf):
        # The current status plus the event (upstream/pkg/hostagent/hostagent.go:366-375).
        with self.out_lock:
            self._write_event(dict(self.status, portForward=pf))

    def _write_event(self, st):
        sys.stdout.write(json.dumps({"time": logmod.rfc3339_now(), "status": st}) + "\n")
        sys.stdout.flush()

    # -- helpers --------------------------------------------------------------------------------
    def path(self, f):
        return os.path.join(self.dir, f)

    def write(self, f, data, mode=0o644):
        tmp = self.path(f + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, self.path(f))

    def pick_port(self, cfg):
        p = cfg["ssh"]["localPort"]
        if p:
            return p
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        return p

    def ssh_config(self, user):
        ident = os.path.join(self.sim.lima_home, "_config", "user")
        return ("# This SSH config file can be passed to 'ssh -F'.\n"
                "# This file is created by Lima, but not used by Lima itself currently.\n"
                "# Modifications to this file will be lost on restarting the Lima instance.\n"
                "Host %s\n  IdentityFile \"%s\"\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
                "  NoHostAuthenticationForLocalhost yes\n  PreferredAuthentications publickey\n"
                "  Compression no\n  BatchMode yes\n  IdentitiesOnly yes\n  Ciphers \"^aes128-gcm@openssh.com,"
                "aes256-gcm@openssh.com\"\n  User %s\n  ControlMaster auto\n  ControlPath \"%s\"\n"
                "  ControlPersist yes\n  Hostname 127.0.0.1\n  Port %d\n"
                % (store.hostname_for(self.name), ident, user, self.path("ssh.sock"), self.port))

    def owns_pidfile(self):
        raw = store.read_text(self.path("ha.pid"))
        return raw is not None and raw.strip() == str(self.pid)

    # -- lifecycle ------------------------------------------------------------------------------
    def run(self):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
        self.write("ha.pid", "%d\n" % self.pid)
        try:
            y, err = store.load_config(self.sim, self.name)
            if err:
                raise RuntimeError(err)
            lv = (store.read_text(self.path("lima-version"), "") or "").strip() or self.sim.info_version
            cfg = store.fill_defaults(self.sim, y, self.name, self.dir, lv)
            self.vm_type = cfg["vmType"]
            self.port = self.pick_port(cfg)
            self.write("ssh.config", self.ssh_config(cfg["user"]["name"]), 0o600)
            self.log("info", "SSH Local Port: %d" % self.port)
            self.event()
            mode, reason = sandbox.mode(self.sim)
            if mode == "on":
                self.boot_sandbox(y, cfg, lv)
                self.start_port_forwarding(cfg)
            else:
                self.log("warning", "limasim: guest sandbox unavailable (%s); `shell` and `copy` will fail "
                                    "like an unreachable ssh" % reason)
                self.boot_headless()
            delay = float(self.sim.get("boot_delay_ms") or 0) / 1000.0
            if delay:
                time.sleep(delay)
            self.log("info", "Waiting for the final requirement 1 of 1: \"boot scripts must have finished\"")
            self.log("info", "The final requirement 1 of 1 is satisfied")
            self.event(running=True)
        except Exception as e:  # noqa: BLE001 - report like Lima's host agent, then exit
            self.log("error", str(e))
            self.event(exiting=True, errors=[str(e)])
            self.teardown(graceful=False)
            return 1
        return self.loop()

    def boot_headless(self):
        # A stand-in "driver" process so that status/driverPID behave like a VM.
        self.driver = subprocess.Popen(["limasim-driver-" + self.name, "infinity"], executable="/usr/bin/sleep",
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, preexec_fn=_pdeathsig_kill, close_fds=True)
        self.write("%s.pid" % self.vm_type, "%d\n" % self.driver.pid)

    def boot_sandbox(self, y, cfg, lima_version):
        sandbox.init_guest_root(self.dir, self.name)
        self.sim.ensure_sim_dir()
        root = sandbox.guest_root(self.dir)
        hostname = (store.read_text(os.path.join(root, "etc", "hostname"), "") or "").strip() \
            or store.hostname_for(self.name)
        r, w = os.pipe()
        argv = sandbox.bwrap_argv(self.sim, self.dir, cfg, hostname, w)
        serial = open(self.path("serial.log"), "ab")
        self.log("info", "Starting the guest sandbox (bwrap) (hint: to watch the boot progress, see %s)"
                 % logmod.go_quote(self.path("serial*.log")))
        self.bwrap = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=serial, stderr=serial,
                                      pass_fds=(w,), close_fds=True, cwd="/")
        os.close(w)
        serial.close()
        info = _read_info(r, self.bwrap)
        os.close(r)
        self.init_pid = int(info["child-pid"])
        self.holder_pid = _wait_child_of(self.init_pid)
        self.write("%s.pid" % self.vm_type, "%d\n" % self.init_pid)
        self.log("info", "[guest agent] sandbox PID 1 is host PID %d" % self.init_pid)
        user = store.guest_user_info(self.sim, y, self.name, lima_version)
        pub = store.read_text(os.path.join(self.sim.lima_home, "_config", "user.pub"))
        boots = int((store.read_text(self.path("guest/.boot-count"), "0") or "0").strip() or 0) + 1
        self.write("guest/.boot-count", "%d\n" % boots)
        plan = {"instance": self.name, "hostname": hostname, "user": user, "provision": cfg.get("provision") or [],
                "params": cfg.get("param") or {}, "env": cfg.get("env") or {}, "pubkey": pub, "boot_count": boots}
        self.log("info", "Waiting for the essential requirement 1 of 2: \"ssh\"")
        res = subprocess.run(sandbox.nsenter_argv(self.init_pid) + ["/usr/bin/python3", "-I",
                                                                    sandbox.GUEST_PYLIB + "/boot.py"],
                             input=json.dumps(plan).encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd="/")
        for ln in res.stderr.decode(errors="replace").splitlines():
            self.log("info", "[guest agent] " + ln)
        if res.returncode != 0:
            raise RuntimeError("guest boot failed (exit %d), see %s" % (res.returncode, self.path("ha.stderr.log")))
        result = json.loads(res.stdout.decode() or "{}")
        self.log("info", "The essential requirement 1 of 2 is satisfied")
        self.log("info", "Waiting for the essential requirement 2 of 2: \"user session is ready for ssh\"")
        self.log("info", "The essential requirement 2 of 2 is satisfied")
        for p in result.get("provision", []):
            if p.get("exit_code"):
                self.log("warning", "provisioning script provision.%s/%08d failed with exit code %d; see "
                         "/var/log/cloud-init-output.log in the guest" % (p["mode"], p["index"], p["exit_code"]))
        self.write("guest/.boot-result.json", json.dumps(result))

    def start_port_forwarding(self, cfg):
        """After the essential requirements, like Lima (upstream/pkg/hostagent/hostagent.go:653-658)."""
        rules = [portfwd.from_filled(r, self.dir) for r in cfg.get("portForwards") or []]
        forwarder, warning = portfwd.forwarder_for_env(_limactl_env("LIMA_SSH_PORT_FORWARDER"))
        plan = portfwd.Plan(rules, ssh_local_port=self.port, forwarder=forwarder, inst_dir=self.dir,
                            plain=bool(cfg.get("plain")))
        for msg in plan.messages:
            self.log("info", msg)
        if plan.plain:  # upstream/pkg/hostagent/hostagent.go:564-572
            self.log("info", "Running in plain mode. Mounts, dynamic port forwarding, containerd, etc. will be "
                             "ignored. Guest agent will not be running."
                     + (" Static port forwarding is allowed." if plan.static_rules else ""))
        if warning:
            self.log("warning", warning)
        try:
            self.forwarder = portfwd.LiveForwarder(plan, self.init_pid, self.log, self.port_forward_event)
        except OSError as e:
            self.log("warning", "limasim: port forwarding unavailable: %s" % e)
            return
        self.forwarder.start()

    def loop(self):
        while True:
            sig = signal.sigtimedwait([signal.SIGINT, signal.SIGTERM, signal.SIGHUP], 1.0)
            if sig is not None:
                self.log("info", "Received %s, shutting down the host agent" % signal.Signals(sig.si_signo).name)
                self.teardown(graceful=True)
                return 0
            if not os.path.isdir(self.dir) or not self.owns_pidfile():
                # Instance (or whole LIMA_HOME) deleted, or stop -f removed our pid file.
                self.teardown(graceful=False)
                return 0
            if self.bwrap is not None and self.bwrap.poll() is not None:
                self.log("error", "the guest sandbox exited unexpectedly (status %s)" % self.bwrap.returncode)
                self.teardown(graceful=False)
                return 1
            if self.driver is not None and self.driver.poll() is not None:
                self.log("error", "driver process exited unexpectedly")
                self.teardown(graceful=False)
                return 1

    def teardown(self, graceful):
        if self.forwarder is not None:
            self.forwarder.close()
            self.forwarder = None
        self.event(exiting=True)
        if self.init_pid:
            if graceful:
                self.terminate_guest()
            _kill(self.init_pid, signal.SIGKILL)
        if self.bwrap is not None:
            # bwrap's monitor exits (reaping the sandbox) once PID 1 of the sandbox is gone.
            try:
                self.bwrap.wait(5)
            except subprocess.TimeoutExpired:
                _kill(self.bwrap.pid, signal.SIGKILL)
                self.bwrap.wait()
        if self.driver is not None:
            _kill(self.driver.pid, signal.SIGKILL)
            self.driver.wait()
        if os.path.isdir(self.dir):
            if self.owns_pidfile():
                for f in ("ha.pid", "%s.pid" % self.vm_type, "ha.sock"):
                    try:
                        os.unlink(self.path(f))
                    except OSError:
                        pass
            self.log("info", "Shutting down the host agent")

    def terminate_guest(self):
        """Like a guest shutdown: SIGTERM every guest process, give them a moment, then kill."""
        pids = [p for p in guest_pids(self.init_pid) if p not in (self.init_pid, self.holder_pid)]
        for p in pids:
            _kill(p, signal.SIGTERM)
        deadline = time.time() + 2.0
        while time.time() < deadline:
            if not [p for p in pids if store.pid_alive(p)]:
                break
            time.sleep(0.05)


def _limactl_env(name):
    """A variable of the `limactl start` that spawned us: real Lima's host agent inherits its
    whole environment (upstream pkg/instance/start.go, no cmd.Env); the simulator's start passes
    only a few variables, so fall back to the parent's initial environment."""
    if name in os.environ:
        return os.environ[name]
    try:
        with open("/proc/%d/environ" % os.getppid(), "rb") as f:
            for item in f.read().split(b"\0"):
                k, sep, v = item.partition(b"=")
                if sep and k.decode(errors="replace") == name:
                    return v.decode(errors="replace")
    except OSError:
        pass
    return None


def guest_pids(init_pid):
    try:
        ns = os.readlink("/proc/%d/ns/pid" % init_pid)
    except OSError:
        return []
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/pid" % e) == ns:
                out.append(int(e))
        except OSError:
            pass
    return out


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _pdeathsig_kill():
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _read_info(fd, proc, timeout=20.0):
    buf = b""
    deadline = time.time() + timeout
    dec = json.JSONDecoder()
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            try:
                obj, _ = dec.raw_decode(buf.decode().strip())
                return obj
            except ValueError:
                continue
        elif proc.poll() is not None:
            break
    try:
        return dec.raw_decode(buf.decode().strip())[0]
    except ValueError:
        raise RuntimeError("bwrap did not start (exit status %s); see serial.log" % proc.poll())


def _wait_child_of(ppid, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (ppid, ppid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.01)
    return 0


def main(sim, args):
    name = [a for a in args if not a.startswith("-")][-1]
    return Agent(sim, name).run()
