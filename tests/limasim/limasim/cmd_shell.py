"""`limactl shell` and `limactl copy`: run in the guest sandbox like ssh would."""

import fnmatch
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

from . import GUEST_DIR, Exit, sandbox, store

_UNSAFE = re.compile(r"[^\w@%+=:,./-]", re.ASCII)


def sh_quote(s):
    """al.essio.dev/pkg/shellescape.Quote (what limactl uses)."""
    if s == "":
        return "''"
    if not _UNSAFE.search(s):
        return s
    return "'" + s.replace("'", "'\"'\"'") + "'"


def quote_command(argv):
    """limactl's argv re-quoting: leading K=V words keep their key unquoted."""
    out = []
    parsing_env = True
    for a in argv:
        if parsing_env and "=" in a:
            k, v = a.split("=", 1)
            out.append(k + "=" + sh_quote(v))
        else:
            parsing_env = False
            out.append(sh_quote(a))
    return " ".join(out)


def _q(s):
    from .log import go_quote
    return go_quote(s)


# --------------------------------------------------------------------------------------------
# instance checks shared by shell and copy


def _not_exist(ctx, name):
    verb = "create" if ctx.sim.at_least("1.0.0") else "start"
    ctx.log.fatal("instance %s does not exist, run `limactl %s %s` to create a new instance"
                  % (ctx.sim.q(name), verb, name))


def _stopped(ctx, name):
    ctx.log.fatal("instance %s is stopped, run `limactl start %s` to start the instance" % (ctx.sim.q(name), name))


def connection_target(ctx, inst):
    """(driver pid, ssh port) of a reachable guest, or exit 255 like an ssh that cannot connect."""
    port = store.ssh_port_from_config(inst.dir) or 22
    if not inst.driver_pid or not os.path.isdir(sandbox.guest_root(inst.dir)) \
            or not store.pid_alive(inst.driver_pid, b"bwrap"):
        sys.stderr.write("ssh: connect to host 127.0.0.1 port %d: Connection refused\n" % port)
        if inst.driver_pid:
            sys.stderr.write("limasim: this instance runs without the guest sandbox (bwrap unavailable or "
                             "_sim/config.json sandbox=off)\n")
        sys.stderr.flush()
        raise Exit(255)
    return inst.driver_pid, port


def guest_account(ctx, inst, port):
    user = inst.user()["name"]
    acc = sandbox.passwd_lookup(inst.dir, user)
    if acc is None:
        sys.stderr.write("%s@127.0.0.1: Permission denied (publickey).\n" % user)
        raise Exit(255)
    return acc


# --------------------------------------------------------------------------------------------
# shell


def _ask_start(ctx):
    """2.0.0-2.0.2: the yes/no prompt reads its answer from stdin whatever --tty says."""
    sys.stderr.write("? Do you want to start the instance now? (Y/n) ")
    sys.stderr.flush()
    line = b""
    while not line.endswith(b"\n"):
        try:
            c = os.read(0, 1)
        except OSError:
            c = b""
        if not c:
            break
        line += c
    ctx.rec.add_stdin(len(line))
    if not line:
        ctx.log.fatal("EOF")
    ans = line.strip().lower()
    if ans in (b"", b"y", b"yes"):
        return True
    if ans in (b"n", b"no"):
        return False
    ctx.log.fatal("invalid answer %s" % _q(ans.decode(errors="replace")))


def cmd_shell(ctx):
    sim, p, log = ctx.sim, ctx.p, ctx.log
    args = list(ctx.args)
    if p.get("instance"):
        name = p.get("instance")
    else:
        if not args:
            ctx.arg_error("requires at least 1 arg(s), only received 0")
        name = args.pop(0)
    if args[:1] == ["--"]:
        args = args[1:]
    if args and args[0] in (("create", "start", "delete", "shell") if sim.at_least("1.0.0")
                            else ("start", "delete", "shell")):
        log.warn("Perhaps you meant `limactl %s`?" % " ".join(args))
    try:
        inst = store.inspect(sim, name)
    except FileNotFoundError:
        _not_exist(ctx, name)
    if getattr(inst, "missing_yaml", False):
        _not_exist(ctx, name)
    if inst.status == "Stopped":
        start_flag = p.get("start") if "start" in p.changed else None
        if not sim.at_least("2.0.0"):
            _stopped(ctx, name)
        elif not sim.at_least("2.0.3"):
            start_now = start_flag if start_flag is not None else _ask_start(ctx)
            if not start_now:
                return 0
        elif not sim.at_least("2.1.0"):
            if start_flag is None:
                if ctx.tty and _isatty(0):
                    start_flag = _ask_start(ctx)
                else:
                    return 0  # 2.0.3: exits 0 without running anything (lima-vm/lima#4690)
            if not start_flag:
                return 0
        else:
            if not start_flag:
                if start_flag is None and ctx.tty and _isatty(0):
                    if not _ask_start(ctx):
                        return 0
                else:
                    _stopped(ctx, name)
        from .lifecycle import boot
        boot(ctx, name, 600.0, quiet_ready=True)
        inst = store.inspect(sim, name)
    if p.get("sync"):
        log.fatal("limasim: `limactl shell --sync` is not simulated")
    if p.get("reconnect"):
        log.info("Exiting ssh session for the instance %s" % sim.q(name))
    cfg = store.fill_defaults(sim, inst.raw, name, inst.dir, inst.lima_version or sim.info_version) \
        if inst.raw is not None else None
    script = build_script(ctx, cfg, args)
    log.debug("executing ssh (may take a long)): %s" % script)
    pid, port = connection_target(ctx, inst)
    acc = guest_account(ctx, inst, port)
    if _isatty(1) and not _isatty(0):
        sys.stderr.write("Pseudo-terminal will not be allocated because stdin is not a terminal.\r\n")
        sys.stderr.flush()
    if _isatty(1) and _isatty(0) and ctx.fault is None:
        argv = sandbox.login_argv(pid, acc, script, port, term=os.environ.get("TERM") or "xterm")
        return run_pty(ctx, argv, pid, acc)
    argv = sandbox.login_argv(pid, acc, script, port)
    return run_piped(ctx, argv)


def build_script(ctx, cfg, args):
    sim, p = ctx.sim, ctx.p
    wd = p.get("workdir")
    mounts = (cfg or {}).get("mounts") or []
    if wd:
        cd = "cd %s || exit 1" % sh_quote(wd)
    elif mounts:
        home = os.path.expanduser("~")
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None
        locs = [m["location"].rstrip("/") or "/" for m in mounts]

        def inside(path):
            return any(path == loc or path.startswith(loc.rstrip("/") + "/") for loc in locs)
        if not sim.at_least("2.0.0"):
            cd = ("cd %s" % sh_quote(cwd) if cwd else "false") + " || cd %s" % sh_quote(home)
        elif cwd and inside(cwd):
            cd = "cd %s || cd %s" % (sh_quote(cwd), sh_quote(home))
        elif inside(home):
            cd = "cd %s" % sh_quote(home)
        else:
            cd = "false"
    else:
        cd = "false"
    shell = p.get("shell")
    if shell:
        shell = sh_quote(shell)
    elif sim.at_least("2.2.0") and cfg and cfg["user"].get("shell"):
        shell = sh_quote(cfg["user"]["shell"])
    else:
        shell = '"$SHELL"'
    env_prefix = ""
    if p.get("preserve-env"):
        kv = filtered_env()
        if kv:
            env_prefix = "env " + "".join(sh_quote(x) + " " for x in kv)
    login = "-l" if sim.at_least("2.1.0") else "--login"
    script = "%s ; exec %s%s %s" % (cd, env_prefix, shell, login)
    if args:
        script += " -c %s" % sh_quote(quote_command(args))
    return script


def filtered_env():
    from .cmd_info import SHELL_ENV_BLOCK
    block = list(SHELL_ENV_BLOCK)
    env_block = os.environ.get("LIMA_SHELLENV_BLOCK")
    if env_block:
        extra = [x.strip() for x in env_block.lstrip("+").split(",") if x.strip()]
        block = block + extra if env_block.startswith("+") else extra
    allow = [x.strip() for x in (os.environ.get("LIMA_SHELLENV_ALLOW") or "").split(",") if x.strip()]
    out = []
    for k, v in os.environ.items():
        if k == "LIMASIM_INTERNAL":
            continue
        if any(fnmatch.fnmatchcase(k, a) for a in allow) or not any(fnmatch.fnmatchcase(k, b) for b in block):
            out.append("%s=%s" % (k, v))
    return out


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _child_setup():
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: nsenter dies with us


def _exit_status(rc):
    # ssh reports a remote death by signal as 255
    return 255 if rc < 0 else rc


def run_piped(ctx, argv):
    fault = ctx.fault if (ctx.fault or {}).get("action") == "die_mid_stdin" else None
    limit = int(fault.get("after_bytes", 0)) if fault else None
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=None, stderr=None, close_fds=True,
                            start_new_session=True, preexec_fn=_child_setup)
    hung_up = threading.Event()

    def hangup(signum=None, frame=None):
        # The connection is gone: the session gets SIGHUP and its stdin is closed.
        if not hung_up.is_set():
            hung_up.set()
            try:
                os.killpg(proc.pid, signal.SIGHUP)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.stdin.close()
            except (OSError, ValueError):
                pass

    prev = {}
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        prev[s] = signal.getsignal(s)

        def handler(signum, frame, _prev=prev):
            hangup()
            h = _prev.get(signum)
            if callable(h):
                h(signum, frame)
            raise Exit(255)
        signal.signal(s, handler)

    pumped = threading.Event()

    def pump():
        total = 0
        wfd = proc.stdin.fileno()
        try:
            while limit is None or total < limit:
                want = 65536 if limit is None else min(65536, limit - total)
                try:
                    chunk = os.read(0, want)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                total += len(chunk)
                ctx.rec.add_stdin(len(chunk))
                view = memoryview(chunk)
                while view:
                    try:
                        n = os.write(wfd, view)
                    except (BrokenPipeError, OSError):
                        return
                    view = view[n:]
        finally:
            pumped.set()
            if limit is None and not hung_up.is_set():
                try:
                    proc.stdin.close()
                except (OSError, ValueError):
                    pass

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    if fault is not None:
        while not pumped.wait(0.05):
            if proc.poll() is not None:
                return _exit_status(proc.returncode)
        # Deterministic cut: let the guest consume the bytes already sent (the pipe drains),
        # then give it grace_ms to act on them before the connection drops.
        _wait_drained(proc, float(fault.get("drain_timeout_ms", 5000)) / 1000.0)
        time.sleep(float(fault.get("grace_ms", 100)) / 1000.0)
        hangup()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        sys.stderr.write(fault.get("message", "Connection to 127.0.0.1 closed by remote host.") + "\n")
        sys.stderr.flush()
        return int(fault.get("exit_code", 255))
    rc = proc.wait()
    return _exit_status(rc)


def _wait_drained(proc, timeout):
    import fcntl
    import struct
    import termios
    try:
        fd = proc.stdin.fileno()
    except (ValueError, OSError):
        return
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            left = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return
        if left == 0:
            return
        time.sleep(0.01)


def _guest_pty(driver_pid, account):
    """A pseudo-terminal from the guest's own devpts (like sshd allocates it in the VM), so that
    tty/ttyname work inside; falls back to a host pty."""
    import fcntl
    import struct
    root = "/proc/%d/root/dev/pts" % driver_pid
    try:
        master = os.open(root + "/ptmx", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return os.openpty()
    try:
        fcntl.ioctl(master, 0x40045431, struct.pack("i", 0))  # TIOCSPTLCK: unlock
        n = struct.unpack("I", fcntl.ioctl(master, 0x80045430, b"\0" * 4))[0]  # TIOCGPTN
        slave = os.open("%s/%d" % (root, n), os.O_RDWR | os.O_NOCTTY)
        try:
            os.fchown(slave, account[1], -1)
            os.fchmod(slave, 0o620)
        except OSError:
            pass
        return master, slave
    except OSError:
        os.close(master)
        return os.openpty()


def run_pty(ctx, argv, driver_pid, account):
    import fcntl
    import termios
    import tty
    master, slave = _guest_pty(driver_pid, account)
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass

    def setup():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        _child_setup()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True, preexec_fn=setup)
    os.close(slave)

    def winch(signum, frame):
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            pass
    signal.signal(signal.SIGWINCH, winch)
    old = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        fds = [0, master]
        while True:
            try:
                r, _, _ = select.select(fds, [], [])
            except InterruptedError:
                continue
            if master in r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                os.write(1, data)
            if 0 in r:
                data = os.read(0, 65536)
                if not data:
                    fds = [master]
                    continue
                ctx.rec.add_stdin(len(data))
                os.write(master, data)
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)
        os.close(master)
    return _exit_status(proc.wait())


# --------------------------------------------------------------------------------------------
# copy


def _helper():
    p = os.path.join(GUEST_DIR, "pylib")
    if p not in sys.path:
        sys.path.insert(0, p)
    import copyhelper
    return copyhelper


GUEST_HELPER = "/usr/bin/python3 -I " + sandbox.GUEST_PYLIB + "/copyhelper.py"


def cmd_copy(ctx):
    sim, p, log = ctx.sim, ctx.p, ctx.log
    args = ctx.args
    if len(args) < 2:
        ctx.arg_error("requires at least 2 arg(s), only received %d" % len(args))
    backend = p.get("backend") or "auto"
    if backend not in ("auto", "scp", "rsync"):
        log.fatal("invalid backend %s, must be one of: auto, scp, rsync" % _q(backend))
    eps = []
    for a in args:
        if ":" in a:
            parts = a.split(":")
            if len(parts) > 2:
                log.fatal("path %s contains multiple colons" % _q(a))
            eps.append((parts[0], parts[1]))
        else:
            eps.append((None, a))
    insts = {}
    for name, _path in eps:
        if name is None or name in insts:
            continue
        try:
            inst = store.inspect(sim, name)
        except FileNotFoundError:
            _not_exist(ctx, name)
        if inst.status == "Stopped":
            _stopped(ctx, name)
        insts[name] = inst
    if not insts:
        log.fatal("at least one of the paths must be an instance path (INSTANCE:PATH)")
    host_rsync = sandbox.which("rsync")
    if backend == "rsync" and not host_rsync:
        log.fatal('exec: "rsync": executable file not found in $PATH')
    if backend == "rsync":
        log.fatal("limasim: the rsync backend is not simulated (use --backend=scp or auto)")
    recursive = bool(p.get("recursive"))
    verbose = bool(p.get("verbose")) or bool(p.get("debug"))
    targets = {}
    for name, inst in insts.items():
        pid, port = connection_target(ctx, inst)
        targets[name] = (pid, guest_account(ctx, inst, port), port)
    if verbose:
        log.info("limasim: copying %s -> %s (scp semantics)" % (" ".join(args[:-1]), args[-1]))
    dest_name, dest_path = eps[-1]
    sources = eps[:-1]
    count = len(sources)
    rc = 0
    # Consecutive sources on the same endpoint travel in one stream (like one scp process).
    groups = []
    for name, path in sources:
        if groups and groups[-1][0] == name:
            groups[-1][1].append(path)
        else:
            groups.append((name, [path]))
    for name, paths in groups:
        rc |= transfer(ctx, targets, name, paths, dest_name, dest_path, count, recursive, verbose)
    return 1 if rc else 0


def _guest_proc(targets, name, cmd, **kw):
    pid, acc, port = targets[name]
    return subprocess.Popen(sandbox.login_argv(pid, acc, cmd, port), close_fds=True, start_new_session=True,
                            preexec_fn=_child_setup, **kw)


def transfer(ctx, targets, src_name, paths, dest_name, dest_path, count, recursive, verbose):
    ch = _helper()
    flags = (["-r"] if recursive else []) + (["-v"] if verbose else [])
    send_cmd = " ".join([GUEST_HELPER, "send"] + flags + [sh_quote(x) for x in paths])
    recv_cmd = " ".join([GUEST_HELPER, "recv", sh_quote(dest_path), str(count)])
    if src_name is not None and dest_name is not None:
        sender = _guest_proc(targets, src_name, send_cmd, stdout=subprocess.PIPE)
        receiver = _guest_proc(targets, dest_name, recv_cmd, stdin=sender.stdout)
        sender.stdout.close()
        return (_exit_status(sender.wait()) != 0) | (_exit_status(receiver.wait()) != 0)
    if src_name is not None:
        sender = _guest_proc(targets, src_name, send_cmd, stdout=subprocess.PIPE)
        try:
            rrc = ch.recv(dest_path, count, inp=sender.stdout)
        except Exception as e:  # noqa: BLE001 - a broken stream is a failed copy
            sys.stderr.write("scp: %s\n" % e)
            rrc = 1
        src_rc = _exit_status(sender.wait())
        return (src_rc != 0) | (rrc != 0)
    receiver = _guest_proc(targets, dest_name, recv_cmd, stdin=subprocess.PIPE)
    try:
        src_rc = ch.send(paths, recursive, out=receiver.stdin, verbose=verbose)
    except BrokenPipeError:
        src_rc = 1
    finally:
        try:
            receiver.stdin.close()
        except (OSError, BrokenPipeError):
            pass
    return (src_rc != 0) | (_exit_status(receiver.wait()) != 0)
