"""Entry point: global flags, subcommand dispatch, call recording, latency and faults."""

import os
import signal
import sys
import time

from . import Exit
from . import cli
from .calls import NullRecorder, Recorder
from .log import Logger
from .simenv import Sim

# name -> (module, function, flags may follow operands). Only what dvm calls (libdvm/src/lima/driver.cpp)
# and what the e2e tests call directly (protect, unprotect); anything else is refused loudly.
COMMANDS = {
    "create": ("lifecycle", "cmd_create", True),
    "start": ("lifecycle", "cmd_start", True),
    "stop": ("lifecycle", "cmd_stop", True),
    "delete": ("lifecycle", "cmd_delete", True),
    "edit": ("lifecycle", "cmd_edit", True),
    "protect": ("lifecycle", "cmd_protect", True),
    "unprotect": ("lifecycle", "cmd_unprotect", True),
    "list": ("cmd_list", "cmd_list", True),
    "shell": ("cmd_shell", "cmd_shell", False),
    "copy": ("cmd_shell", "cmd_copy", True),
}


def command_flags(name):
    from .cli import Flag
    if name == "create":
        return [Flag("name", kind="string"), Flag("mount-none", kind="bool")]
    if name == "start":
        return [Flag("timeout", kind="string", default="10m0s")]
    if name == "edit":
        return [Flag("set", kind="array")]
    if name in ("stop", "delete"):
        return [Flag("force", "f", kind="bool")]
    if name == "list":
        return [Flag("json", kind="bool")]
    if name == "shell":
        return [Flag("workdir", kind="string")]
    if name == "copy":
        return [Flag("recursive", "r", kind="bool"), Flag("verbose", "v", kind="bool"),
                Flag("backend", kind="string", default="auto")]
    return []


class Ctx:
    def __init__(self, sim, log, rec, name, parsed, fault):
        self.sim = sim
        self.log = log
        self.rec = rec
        self.name = name
        self.p = parsed
        self.args = parsed.args
        self.fault = fault
        if "tty" in parsed.changed:
            self.tty = bool(parsed.get("tty"))
        else:
            self.tty = _isatty(1)

    def read_stdin(self):
        try:
            data = sys.stdin.buffer.read()
        except (OSError, ValueError, AttributeError):
            data = b""
        self.rec.add_stdin(len(data))
        return data

    def arg_error(self, msg):
        self.log.fatal('"limactl %s" %s\nSee \'limactl %s --help\'.' % (self.name, msg, self.name))


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False


def main(argv, extra_fds=None):
    start = time.time()
    sim = Sim()
    args = list(argv[1:])
    if args[:1] == ["hostagent"]:
        from . import hostagent
        return hostagent.main(sim, args[1:])
    internal = os.environ.get("LIMASIM_INTERNAL") == "1"
    try:
        rec = NullRecorder() if internal else Recorder(sim, argv, extra_fds or [], start)
    except OSError as e:
        sys.stderr.write("limasim: cannot record the call under %s: %s\n" % (sim.sim_dir, e))
        rec = NullRecorder()

    def on_signal(signum, frame):
        # Killed: record the call, then die from the same signal (no Python traceback).
        rec.finish(exit_code=None, signal=signum)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)
    code = 1
    try:
        code = run(sim, args, rec, internal)
    except Exit as e:
        code = e.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 1
    finally:
        rec.finish(exit_code=code)
        try:
            sys.stdout.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
    return code


def run(sim, args, rec, internal):
    latency = float(sim.get("latency_ms") or 0) if not internal else 0
    if latency > 0:
        time.sleep(latency / 1000.0)
    gflags = cli.GLOBAL_FLAGS + [cli.Flag("version", "v", kind="bool")]
    idx = cli.find_subcommand(args, gflags)
    name = None
    rest = args
    if idx is not None:
        name = args[idx]
        rest = args[:idx] + args[idx + 1:]
    rec.set(subcommand=name)
    log = Logger()
    if name is not None and name not in COMMANDS:
        # Real limactl has more (help, info, restart, aliases, ...): dvm calls none of them.
        log.fatal("limasim: `limactl %s` is not simulated" % name)
    if name is None:
        try:
            p = cli.parse(rest, gflags)
        except cli.ParseError as e:
            log.fatal(str(e))
        if p.get("version"):
            sys.stdout.write("limactl version %s\n" % sim.version)
            return 0
        log.fatal("limasim: `limactl` without a subcommand is not simulated")
    spec = COMMANDS[name]
    allflags = command_flags(name) + cli.GLOBAL_FLAGS
    try:
        p = cli.parse(rest, allflags, interspersed=spec[2])
    except cli.ParseError as e:
        log.fatal(str(e))
    instance = _target_instance(name, p)
    rec.set(instance=instance)
    fault = None
    if not internal:
        from . import faults
        slow, fault = faults.select(sim, name, args, instance)
        if slow:
            time.sleep(slow / 1000.0)
        if fault:
            rec.set(faults=[fault])
            if fault["action"] != "die_mid_stdin":
                return apply_fault(log, rec, fault)
    ctx = Ctx(sim, log, rec, name, p, fault)
    mod = __import__("limasim." + spec[0], fromlist=[spec[1]])
    try:
        return getattr(mod, spec[1])(ctx)
    except Exit as e:
        return e.code


def apply_fault(log, rec, fault):
    action = fault["action"]
    from . import faults
    if action == "hang":
        sys.stdout.flush()
        faults.hang_forever()
    if action in ("fail", "garbage"):
        out = fault.get("stdout")
        if out is not None:
            sys.stdout.flush()
            sys.stdout.buffer.write(out.encode() if isinstance(out, str) else out)
            sys.stdout.flush()
        if fault.get("stderr") is not None:
            sys.stderr.write(fault["stderr"])
            sys.stderr.flush()
        elif action == "fail":
            log.log("fatal", fault.get("message") or "limasim: injected failure")
        return int(fault.get("exit_code", 1 if action == "fail" else 0))
    # die_mid_stdin is carried out by `shell` itself (it needs the guest connection).
    return None


def _target_instance(name, p):
    a = p.args
    if name == "create":
        return p.get("name") or None
    if name == "copy":
        for x in a:
            if ":" in x:
                return x.split(":", 1)[0]
        return None
    return a[0] if len(a) == 1 or name == "shell" and a else (list(a) or None)
