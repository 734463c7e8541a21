"""`limactl shell` and `limactl copy`: run in the guest sandbox like ssh would."""

import os
import re
import select
import signal
import stat
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
    ctx.log.fatal("instance %s does not exist, run `limactl create %s` to create a new instance"
                  % (ctx.sim.q(name), name))


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
    sim, log = ctx.sim, ctx.log
    args = list(ctx.args)
    if not args:
        ctx.arg_error("requires at least 1 arg(s), only received 0")
    name = args.pop(0)
    if args[:1] == ["--"]:
        args = args[1:]
    if args and args[0] in ("create", "start", "delete", "shell"):
        log.warn("Perhaps you meant `limactl %s`?" % " ".join(args))
    try:
        inst = store.inspect(sim, name)
    except FileNotFoundError:
        _not_exist(ctx, name)
    if getattr(inst, "missing_yaml", False):
        _not_exist(ctx, name)
    if inst.status == "Stopped":
        # Differs within 2.x; dvm never passes --start, so it is the prompt (which reads
        # stdin), nothing, or a refusal.
        if not sim.at_least("2.0.3"):
            if not _ask_start(ctx):  # 2.0.0-2.0.2 ask whatever --tty says
                return 0
        elif not (ctx.tty and _isatty(0)):
            if not sim.at_least("2.1.0"):
                return 0  # 2.0.3: exits 0 without running anything (lima-vm/lima#4690)
            _stopped(ctx, name)
        elif not _ask_start(ctx):
            return 0
        from .lifecycle import boot
        boot(ctx, name, 600.0, quiet_ready=True)
        inst = store.inspect(sim, name)
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
        if cwd and inside(cwd):
            cd = "cd %s || cd %s" % (sh_quote(cwd), sh_quote(home))
        elif inside(home):
            cd = "cd %s" % sh_quote(home)
        else:
            cd = "false"
    else:
        cd = "false"
    if sim.at_least("2.2.0") and cfg and cfg["user"].get("shell"):
        shell = sh_quote(cfg["user"]["shell"])
    else:
        shell = '"$SHELL"'
    login = "-l" if sim.at_least("2.1.0") else "--login"
    script = "%s ; exec %s %s" % (cd, shell, login)
    if args:
        script += " -c %s" % sh_quote(quote_command(args))
    return script


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


def split_copy_path(arg):
    """(instance, path) or (None, path): only the FIRST colon splits (upstream/pkg/copytool/copytool.go:136)."""
    if ":" in arg:
        name, path = arg.split(":", 1)
        return name, path
    return None, arg


def host_has_rsync(sim):
    """exec.LookPath("rsync") on limactl's PATH (upstream/pkg/copytool/rsync.go:24-29);
    `_sim/config.json` `host_rsync` true/false overrides the lookup."""
    forced = sim.get("host_rsync")
    if forced is not None:
        return bool(forced)
    import shutil
    return shutil.which("rsync") is not None


def _inspect_endpoints(ctx, eps, fatal):
    """Inspect every instance named in the paths like parseCopyPaths (copytool.go:116-165).
    Returns {name: inst}, or None on an error when not fatal."""
    insts = {}
    for name, _path in eps:
        if name is None or name in insts:
            continue
        try:
            inst = store.inspect(ctx.sim, name)
        except FileNotFoundError:
            if not fatal:
                return None
            _not_exist(ctx, name)
        if inst.status == "Stopped":
            if not fatal:
                return None
            _stopped(ctx, name)
        insts[name] = inst
    return insts


def _rsync_on_guests(ctx, eps):
    """IsAvailableOnGuest: `command -v rsync` over ssh on every instance involved (rsync.go:35-83)."""
    insts = _inspect_endpoints(ctx, eps, fatal=False)
    if insts is None:
        return False
    for inst in insts.values():
        port = store.ssh_port_from_config(inst.dir) or 22
        if not inst.driver_pid or not os.path.isdir(sandbox.guest_root(inst.dir)) \
                or not store.pid_alive(inst.driver_pid, b"bwrap"):
            return False
        acc = sandbox.passwd_lookup(inst.dir, inst.user()["name"])
        if acc is None:
            return False
        argv = sandbox.login_argv(inst.driver_pid, acc, "command -v rsync >/dev/null 2>&1", port)
        if subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          close_fds=True, preexec_fn=_child_setup).returncode != 0:
            return False
    return True


def choose_copy_tool(ctx, backend, eps):
    """copytool.New (upstream/pkg/copytool/copytool.go:55-96): auto prefers rsync when the host and
    every guest involved have it and at most one path is remote; scp otherwise."""
    sim = ctx.sim
    if backend == "scp":
        return "scp"
    if backend == "rsync":
        if not host_has_rsync(sim):
            ctx.log.fatal('rsync not found on host: exec: "rsync": executable file not found in $PATH')
        if not _rsync_on_guests(ctx, eps):
            ctx.log.fatal("rsync not available on guest(s)")
        return "rsync"
    if sum(1 for n, _p in eps if n is not None) < 2 and host_has_rsync(sim) and _rsync_on_guests(ctx, eps):
        return "rsync"
    return "scp"


def cmd_copy(ctx):
    p, log = ctx.p, ctx.log
    args = ctx.args
    if len(args) < 2:
        ctx.arg_error("requires at least 2 arg(s), only received %d" % len(args))
    backend = p.get("backend") or "auto"
    if backend not in ("auto", "scp", "rsync"):
        log.fatal("invalid backend %s, must be one of: scp, rsync, auto" % _bq(backend))
    eps = [split_copy_path(a) for a in args]
    tool = choose_copy_tool(ctx, backend, eps)
    insts = _inspect_endpoints(ctx, eps, fatal=True)
    if not insts:
        log.fatal("at least one of the paths must be an instance path (INSTANCE:PATH)")
    recursive = bool(p.get("recursive"))
    verbose = bool(p.get("verbose"))
    targets = {}
    for name, inst in insts.items():
        pid, port = connection_target(ctx, inst)
        targets[name] = (pid, guest_account(ctx, inst, port), port)
    log.debug("using copy tool %s" % _bq("/usr/bin/" + tool))
    if tool == "rsync":
        return rsync_copy(ctx, targets, eps, recursive, verbose)
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


def _bq(s):
    """Go's %#q."""
    return "`%s`" % s if "`" not in s and s.isprintable() else _q(s)


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


# --------------------------------------------------------------------------------------------
# copy: the rsync backend
#
# Lima runs `rsync -a [-v --progress|-q] [-r] -e ssh… -- SRC… DEST` (upstream/pkg/copytool/rsync.go:85-186).
# Here the two rsync ends are Python functions joined by a tar stream: the host end runs in
# limactl, the guest end in a child that entered the guest (mount namespace + root, then the
# guest user's ids), so the guest end sees and may touch only what the guest user may.

RSYNC_VERSION = "3.4.1"
_RSYNC_CODES = {1: "syntax or usage error", 3: "errors selecting input/output files, dirs",
                11: "error in file IO", 23: "some files/attrs were not transferred (see previous errors)"}


def rsync_slash_rewrite(paths, recursive):
    """rsync.go:149-169 (Lima >= 2.0.3, lima-vm/lima#4482): with -r every path gets a trailing '/',
    except that a remote path already ending in '/' strips it from the others and a local one
    drops its own. `paths` is [(instance or None, path)]; returns the rewritten list."""
    cps = [[n, p] for n, p in paths]
    if recursive:
        for i, cp in enumerate(cps):
            if cp[1].endswith("/"):
                if cp[0] is not None:
                    for j, other in enumerate(cps):
                        if j != i and other[1].endswith("/"):
                            other[1] = other[1][:-1]
                else:
                    cp[1] = cp[1][:-1]
            else:
                cp[1] += "/"
    return [tuple(cp) for cp in cps]


def _rsync_fail(code, side):
    sys.stderr.write("rsync error: %s (code %d) at main.c(1338) [%s=%s]\n"
                     % (_RSYNC_CODES.get(code, "error"), code, side, RSYNC_VERSION))
    sys.stderr.flush()
    return code


def rsync_copy(ctx, targets, eps, recursive, verbose):
    cps = rsync_slash_rewrite(eps, recursive) if ctx.sim.at_least("2.0.3") else list(eps)
    srcs, (dest_name, dest_path) = cps[:-1], cps[-1]
    remote_srcs = [n for n, _p in srcs if n is not None]
    user = {n: t[1][0] for n, t in targets.items()}
    if remote_srcs and dest_name is not None:
        sys.stderr.write("The source and destination cannot both be remote.\n")
        return _rsync_fail(1, "Receiver")
    if dest_name is None and len(remote_srcs) != len(srcs):
        bad = next(p for n, p in srcs if n is None)
        sys.stderr.write("Unexpected local arg: %s\nIf arg is a remote file/dir, prefix it with a colon (:).\n" % bad)
        return _rsync_fail(1, "Receiver")
    if dest_name is not None and remote_srcs:
        n, p = next((n, p) for n, p in srcs if n is not None)
        sys.stderr.write("Unexpected remote arg: %s@127.0.0.1:%s\n" % (user[n], p))
        return _rsync_fail(1, "sender")
    if verbose:
        sys.stdout.write("sending incremental file list\n" if dest_name is not None
                         else "receiving incremental file list\n")
        sys.stdout.flush()
    r, w = os.pipe()
    if dest_name is not None:
        child = _fork_in_guest(targets[dest_name], lambda: rsync_recv(dest_path, os.fdopen(r, "rb"), verbose,
                                                                     remote=True), keep=r)
        os.close(r)
        with os.fdopen(w, "wb", buffering=0) as out:  # (unbuffered: a receiver that quit early
            src_rc = rsync_send([p for _n, p in srcs], out, remote=False)  # leaves nothing to flush)
        dest_rc = _wait_child(child)
    else:
        name = remote_srcs[0]
        if len(set(remote_srcs)) > 1:  # rsync talks to a single remote host
            sys.stderr.write("Unexpected remote arg: %s@127.0.0.1:%s\n" % (user[remote_srcs[1]], srcs[1][1]))
            return _rsync_fail(1, "Receiver")
        child = _fork_in_guest(targets[name], lambda: rsync_send([p for _n, p in srcs],
                                                                os.fdopen(w, "wb", buffering=0), remote=True),
                               keep=w)
        os.close(w)
        with os.fdopen(r, "rb") as inp:
            dest_rc = rsync_recv(dest_path, inp, verbose, remote=False)
        src_rc = _wait_child(child)
    # a receiver that refused the destination (3, 11) decides the status, not the cut-off sender
    rc = dest_rc if dest_rc in (3, 11) else max(src_rc, dest_rc)
    if rc:
        return _rsync_fail(rc, "sender" if src_rc >= dest_rc else "Receiver")
    return 0


def _wait_child(pid):
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 255


def _fork_in_guest(target, fn, keep):
    """Run fn() in a forked child that entered the guest like `nsenter --mount --root` + setpriv
    (sandbox.login_argv) does; returns the child's pid. Only fd `keep` and stdio stay open."""
    driver_pid, account, _port = target
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 255
    try:
        os.closerange(3, keep)
        os.closerange(keep + 1, 65536)
        _enter_guest(driver_pid, account)
        code = fn()
    except BaseException as e:  # noqa: BLE001 - the child must never return into limactl
        try:
            sys.stderr.write("rsync: %s\n" % e)
        except Exception:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os._exit(code if isinstance(code, int) else 255)


def _enter_guest(driver_pid, account):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    root = os.open("/proc/%d/root" % driver_pid, os.O_RDONLY | os.O_DIRECTORY)
    ns = os.open("/proc/%d/ns/mnt" % driver_pid, os.O_RDONLY)
    if libc.setns(ns, 0x00020000) != 0:  # CLONE_NEWNS
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))
    os.close(ns)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    name, uid, gid, home, _shell = account
    if uid != 0:
        os.initgroups(name, gid)
        os.setgid(gid)
        os.setuid(uid)
    os.environ.clear()
    os.environ.update({"HOME": home, "USER": name, "LOGNAME": name, "PATH": sandbox.SSHD_PATH})
    os.umask(0o022)
    try:
        os.chdir(home)
    except OSError:
        os.chdir("/")


def _rsync_path(path, remote):
    """A remote path goes through the guest's shell (~ expands, "" is the home directory);
    a local one is used as is."""
    if remote:
        if path == "":
            return "."
        if path == "~" or path.startswith("~/"):
            return os.path.expanduser("~") + path[1:]
    return path


def _rsync_err(text):
    sys.stderr.write("rsync: %s\n" % text)
    sys.stderr.flush()


def _oserr(e):
    return "%s (%d)" % (e.strerror or str(e), e.errno or 0)


def rsync_file_list(srcs, remote):
    """The sender's file list: [(name relative to the destination, path)]; '.' stands for the
    destination itself (a source ending in '/' sends its contents). Returns (list, rc)."""
    out, seen, rc = [], set(), 0

    def add(rel, path):
        if rel not in seen:
            seen.add(rel)
            out.append((rel, path))

    def walk(rel, path):
        nonlocal rc
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            _rsync_err('[sender] opendir "%s" failed: %s' % (os.path.abspath(path), _oserr(e)))
            rc = 23
            return
        for n in names:
            p = os.path.join(path, n)
            r = n if rel == "." else rel + "/" + n
            add(r, p)
            if os.path.isdir(p) and not os.path.islink(p):
                walk(r, p)

    for src in srcs:
        path = _rsync_path(src, remote)
        if path.endswith("/"):
            # rsync stats "DIR/." for a source ending in '/', which fails for a file (ENOTDIR)
            try:
                os.stat(path + ".")
            except OSError as e:
                _rsync_err('[sender] link_stat "%s/." failed: %s' % (os.path.abspath(path), _oserr(e)))
                rc = 23
                continue
            add(".", path)
            walk(".", path)
            continue
        try:
            st = os.lstat(path)
        except OSError as e:
            _rsync_err('[sender] link_stat "%s" failed: %s' % (os.path.abspath(path), _oserr(e)))
            rc = 23
            continue
        base = os.path.basename(os.path.normpath(path))
        add(base, path)
        if stat.S_ISDIR(st.st_mode):
            walk(base, path)
    return out, rc


def rsync_send(srcs, out, remote):
    """The sending end: a manifest (how many entries, whether the only one is a directory: the
    receiver needs both to pick the destination, like rsync's get_local_name) and the entries."""
    import io
    import json
    import tarfile
    flist, rc = rsync_file_list(srcs, remote)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            single_dir = len(flist) == 1 and os.path.isdir(flist[0][1]) and not os.path.islink(flist[0][1])
            manifest = json.dumps({"total": len(flist), "single_is_dir": single_dir}).encode()
            ti = tarfile.TarInfo("manifest")
            ti.size = len(manifest)
            tf.addfile(ti, io.BytesIO(manifest))
            for rel, path in flist:
                arc = "t" if rel == "." else "t/" + rel
                try:
                    ti = tf.gettarinfo(path if rel != "." else path.rstrip("/") or "/", arcname=arc)
                except OSError as e:
                    _rsync_err('[sender] link_stat "%s" failed: %s' % (os.path.abspath(path), _oserr(e)))
                    rc = 23
                    continue
                if ti is None:
                    sys.stderr.write('skipping non-regular file "%s"\n' % rel)
                    continue
                if ti.isreg():
                    try:
                        with open(path, "rb") as f:
                            tf.addfile(ti, f)
                    except OSError as e:
                        _rsync_err('[sender] send_files failed to open "%s": %s' % (os.path.abspath(path), _oserr(e)))
                        rc = 23
                else:
                    tf.addfile(ti)
    except BrokenPipeError:
        return max(rc, 23)
    return rc


def _ids(ti):
    """Owner/group for an entry: names are mapped to this side's ids, unknown names keep the
    number (rsync without --numeric-ids)."""
    import grp
    import pwd
    uid, gid = ti.uid, ti.gid
    try:
        uid = pwd.getpwnam(ti.uname).pw_uid if ti.uname else uid
    except KeyError:
        pass
    try:
        gid = grp.getgrnam(ti.gname).gr_gid if ti.gname else gid
    except KeyError:
        pass
    return uid, gid


def _inside(base, path):
    """Is path's parent a real directory inside base (no symlink on the way)?"""
    real_base = os.path.realpath(base)
    parent = os.path.realpath(os.path.dirname(path))
    return parent == real_base or parent.startswith(real_base.rstrip("/") + "/")


def _make_way(target, rel):
    """Remove what stands where an entry goes (a non-empty directory cannot be replaced)."""
    if os.path.isdir(target) and not os.path.islink(target):
        try:
            os.rmdir(target)
        except OSError:
            sys.stderr.write("cannot delete non-empty directory: %s\ncould not make way for new file: %s\n"
                             % (rel, rel))
            return False
    return True


def rsync_recv(dest, inp, verbose, remote):
    """The receiving end. Destination rules of rsync's get_local_name: an existing directory (or a
    new one, for several entries, a directory source or a trailing '/') receives the entries;
    otherwise the single file is written as DEST. Files are replaced through a temporary name."""
    import json
    import tarfile
    import tempfile
    try:
        tf = tarfile.open(fileobj=inp, mode="r|")
        first = tf.next()
        manifest = json.loads(tf.extractfile(first).read()) if first is not None else {"total": 0}
    except (tarfile.ReadError, ValueError, AttributeError):
        return 23  # the sender failed before sending anything (it said why)
    total, single_dir = manifest["total"], manifest.get("single_is_dir")
    dest_x = _rsync_path(dest, remote)
    into = True
    if total == 0:
        return 0
    if os.path.isdir(dest_x):
        pass
    elif os.path.lexists(dest_x):
        if total > 1:
            sys.stderr.write("ERROR: destination must be a directory when copying more than 1 file\n")
            return 3
        if single_dir:
            sys.stderr.write("ERROR: cannot overwrite non-directory with a directory\n")
            return 3
        into = False
    elif total > 1 or dest_x.endswith("/") or single_dir:
        try:
            os.mkdir(dest_x, 0o755)
        except OSError as e:
            _rsync_err('[Receiver] mkdir "%s" failed: %s' % (os.path.abspath(dest_x), _oserr(e)))
            return 11
    else:
        into = False
    root_receiver = os.geteuid() == 0
    groups = set(os.getgroups()) | {os.getegid()}
    rc = 0
    dirs = []
    with tf:
        for ti in tf:
            if ti.name == "manifest":  # (stream iteration starts again at the first member)
                continue
            rel = "." if ti.name == "t" else ti.name[2:]
            parts = rel.split("/")
            if ".." in parts or rel.startswith("/"):
                continue
            target = (os.path.join(dest_x, rel) if rel != "." else dest_x) if into else dest_x
            if into and rel != "." and not _inside(dest_x, target):
                _rsync_err('[Receiver] not following a symlink out of the destination: "%s"' % rel)
                rc = 23
                continue
            if verbose:
                sys.stdout.write(("./" if rel == "." else rel + ("/" if ti.isdir() else "")) + "\n")
            uid, gid = _ids(ti)
            try:
                if ti.isdir():
                    if os.path.lexists(target) and not (os.path.isdir(target) and not os.path.islink(target)):
                        os.unlink(target)
                    if not os.path.isdir(target):
                        os.mkdir(target, 0o700)
                    dirs.append((target, ti, uid, gid))
                    continue
                if os.path.lexists(target) and not _make_way(target, rel):
                    rc = 23
                    continue
                parent = os.path.dirname(target) or "."
                fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(target) + ".")
                os.close(fd)
                if ti.isreg():
                    with open(tmp, "wb") as f:
                        src = tf.extractfile(ti)
                        while True:
                            chunk = src.read(1 << 16)
                            if not chunk:
                                break
                            f.write(chunk)
                    os.chmod(tmp, ti.mode & 0o7777)
                else:
                    os.unlink(tmp)
                    if ti.issym():
                        os.symlink(ti.linkname, tmp)
                    elif ti.isfifo():
                        os.mkfifo(tmp, ti.mode & 0o7777)
                    elif (ti.ischr() or ti.isblk()) and root_receiver:
                        kind = stat.S_IFCHR if ti.ischr() else stat.S_IFBLK
                        os.mknod(tmp, kind | (ti.mode & 0o7777), os.makedev(ti.devmajor, ti.devminor))
                    else:
                        sys.stderr.write('skipping non-regular file "%s"\n' % rel)
                        continue
                _set_owner(tmp, uid, gid, root_receiver, groups)
                os.utime(tmp, (ti.mtime, ti.mtime), follow_symlinks=False)
                os.rename(tmp, target)
            except OSError as e:
                _rsync_err('[Receiver] "%s" failed: %s' % (os.path.abspath(target), _oserr(e)))
                rc = 23
    for target, ti, uid, gid in reversed(dirs):  # after their contents, like rsync
        try:
            os.chmod(target, ti.mode & 0o7777)
            _set_owner(target, uid, gid, root_receiver, groups)
            os.utime(target, (ti.mtime, ti.mtime))
        except OSError as e:
            _rsync_err('[Receiver] "%s" failed: %s' % (os.path.abspath(target), _oserr(e)))
            rc = 23
    return rc


def _set_owner(path, uid, gid, root_receiver, groups):
    # -o only takes effect for a root receiver; -g for groups the receiver is in
    if root_receiver:
        os.lchown(path, uid, gid)
    elif gid in groups:
        os.lchown(path, -1, gid)
