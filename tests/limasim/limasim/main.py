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

# name -> (module, function, use, interspersed, aliases)
COMMANDS = {
    "create": ("lifecycle", "cmd_create", "create FILE.yaml|URL|template:NAME|-", True, ()),
    "start": ("lifecycle", "cmd_start", "start NAME|FILE.yaml|URL", True, ()),
    "stop": ("lifecycle", "cmd_stop", "stop INSTANCE", True, ()),
    "delete": ("lifecycle", "cmd_delete", "delete INSTANCE [INSTANCE, ...]", True, ("remove", "rm")),
    "edit": ("lifecycle", "cmd_edit", "edit INSTANCE|FILE.yaml", True, ()),
    "protect": ("lifecycle", "cmd_protect", "protect INSTANCE [INSTANCE, ...]", True, ()),
    "unprotect": ("lifecycle", "cmd_unprotect", "unprotect INSTANCE [INSTANCE, ...]", True, ()),
    "list": ("cmd_list", "cmd_list", "list [flags] [INSTANCE]...", True, ("ls",)),
    "info": ("cmd_info", "cmd_info", "info", True, ()),
    "shell": ("cmd_shell", "cmd_shell", "shell [flags] INSTANCE [COMMAND...]", False, ()),
    "copy": ("cmd_shell", "cmd_copy", "copy SOURCE ... TARGET", True, ("cp",)),
}
ALIASES = {a: name for name, spec in COMMANDS.items() for a in spec[4]}
# Real subcommands the simulator does not implement: a clear fatal error rather than "unknown command".
NOT_SIMULATED = {"restart", "clone", "rename", "snapshot", "disk", "prune", "factory-reset", "show-ssh",
                 "tunnel", "network", "sudoers", "template", "watch", "autostart", "start-at-login", "yq",
                 "validate", "generate-jsonschema", "completion", "debug", "usernet", "guest-install", "help"}


def command_flags(name, sim):
    from .cli import Flag
    from .editflags import create_only_flag_list, edit_flag_list
    if name == "create":
        flags = create_only_flag_list() + edit_flag_list()
    elif name == "start":
        flags = create_only_flag_list() + edit_flag_list() + [
            Flag("timeout", kind="string", default="10m0s", help="Duration to wait for the instance to be running"),
            Flag("foreground", kind="bool", help="Run the hostagent in the foreground"),
            Flag("progress", kind="bool", since="2.0.0", help="Show provision script progress"),
        ]
    elif name == "edit":
        flags = edit_flag_list() + [Flag("start", kind="bool", since="2.0.0", help="Start the instance after editing")]
    elif name == "stop":
        flags = [Flag("force", "f", kind="bool", help="Force stop the instance")]
    elif name == "delete":
        flags = [Flag("force", "f", kind="bool", help="Forcibly kill the processes")]
    elif name == "list":
        flags = [Flag("format", "f", kind="string", default="table", help="Output format: json, yaml, table, go-template"),
                 Flag("list-fields", kind="bool", help="List fields available for format"),
                 Flag("json", kind="bool", help="Same as --format=json"),
                 Flag("quiet", "q", kind="bool", help="Only show names"),
                 Flag("all-fields", kind="bool", help="Show all fields"),
                 Flag("yq", kind="array", since="2.0.0", help="Apply yq expression to each instance"),
                 Flag("filter", "l", kind="array", since="2.1.0", help="Filter instances using yq expression")]
    elif name == "shell":
        flags = [Flag("shell", kind="string", help="Shell interpreter, e.g. /bin/bash"),
                 Flag("workdir", kind="string", help="Working directory"),
                 Flag("reconnect", kind="bool", since="1.1.0", help="Reconnect to the SSH session"),
                 Flag("preserve-env", kind="bool", since="2.0.0", help="Propagate environment variables to the shell"),
                 Flag("start", kind="bool", since="2.0.0", help="Start the instance if it is not already running"),
                 Flag("sync", kind="string", since="2.1.0", help="Copy a host directory to the guest and back"),
                 Flag("instance", kind="string", since="2.3.0", help="Instance name")]
    elif name == "copy":
        flags = [Flag("recursive", "r", kind="bool", help="Copy directories recursively"),
                 Flag("verbose", "v", kind="bool", since="1.1.0", help="Enable verbose output"),
                 Flag("backend", kind="string", default="auto", since="2.0.0", help="auto, scp, rsync")]
    else:
        flags = []
    return cli.available(flags, sim.version)


class Ctx:
    def __init__(self, sim, log, rec, name, parsed, fault):
        self.sim = sim
        self.log = log
        self.rec = rec
        self.name = name
        self.p = parsed
        self.args = parsed.args
        self.fault = fault
        self.use = COMMANDS[name][2]
        if "yes" in parsed.changed and parsed.get("yes"):
            self.tty = False
        elif "tty" in parsed.changed:
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
    gflags = cli.available(cli.GLOBAL_FLAGS, sim.version) + [cli.Flag("version", "v", kind="bool")]
    idx = cli.find_subcommand(args, gflags)
    name = None
    rest = args
    if idx is not None:
        name = args[idx]
        rest = args[:idx] + args[idx + 1:]
    canon = ALIASES.get(name, name)
    rec.set(subcommand=canon)
    log = Logger(fmt=sim.get("log_format") or "text")
    if canon is None or canon not in COMMANDS:
        try:
            p = cli.parse(rest, gflags)
        except cli.ParseError as e:
            _configure_log(log, None)
            log.fatal(str(e))
        _configure_log(log, p)
        if canon is None and p.get("version"):
            sys.stdout.write("limactl version %s\n" % sim.version)
            return 0
        if canon is None or p.get("help"):
            sys.stdout.write(_root_help())
            return 0
        if canon in NOT_SIMULATED or canon == "hostagent":
            log.fatal("limasim: `limactl %s` is not simulated" % canon)
        log.fatal('unknown command %s for "limactl"' % _goq(name))
    spec = COMMANDS[canon]
    cflags = command_flags(canon, sim)
    names = {f.name for f in cflags}
    allflags = cflags + [f for f in gflags if f.name not in names and f.name != "version"]
    try:
        p = cli.parse(rest, allflags, interspersed=spec[3])
    except cli.ParseError as e:
        _configure_log(log, None)
        log.fatal(str(e))
    _configure_log(log, p)
    if p.get("help"):
        sys.stdout.write(cli.usage(spec[2], allflags))
        return 0
    if "yes" in p.changed and "tty" in p.changed:
        log.fatal("cannot specify both --tty and --yes")
    instance = _target_instance(canon, p)
    rec.set(instance=instance)
    fault = None
    if not internal:
        from . import faults
        slow, fault = faults.select(sim, canon, rec.call_number, args, instance)
        if slow:
            time.sleep(slow / 1000.0)
        if fault:
            rec.set(faults=[fault])
            if not fault.get("after_work") and fault["action"] != "die_mid_stdin":
                return apply_fault(log, rec, fault)
    ctx = Ctx(sim, log, rec, canon, p, fault)
    mod = __import__("limasim." + spec[0], fromlist=[spec[1]])
    try:
        code = getattr(mod, spec[1])(ctx)
    except Exit as e:
        code = e.code
    if fault and fault.get("after_work") and fault["action"] in ("fail", "hang", "garbage"):
        return apply_fault(log, rec, fault)
    return code


def apply_fault(log, rec, fault):
    action = fault["action"]
    from . import faults
    if action == "hang":
        sys.stdout.flush()
        faults.hang_forever()
    if action in ("fail", "garbage"):
        out = fault.get("stdout")
        if fault.get("stdout_hex"):
            out = bytes.fromhex(fault["stdout_hex"])
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
    if name in ("shell",):
        return p.get("instance") or (a[0] if a else None)
    if name in ("start", "stop", "edit"):
        return a[0] if a else ("default" if name != "start" or not p.get("name") else p.get("name"))
    if name == "create":
        return p.get("name") or None
    if name in ("delete", "list", "protect", "unprotect"):
        return a[0] if len(a) == 1 else (list(a) or None)
    if name == "copy":
        for x in a:
            if ":" in x:
                return x.split(":", 1)[0]
    return None


def _configure_log(log, p):
    if p is None:
        return
    fmt = p.get("log-format") if "log-format" in p.changed else None
    if fmt:
        if fmt not in ("text", "json"):
            log.fatal("unsupported log-format: %s" % _goq(fmt))
        log.fmt = fmt
    lvl = p.get("log-level")
    if lvl:
        from .log import LEVELS
        if lvl not in LEVELS:
            log.fatal('not a valid logrus Level: %s' % _goq(lvl))
        log.level = LEVELS[lvl]
    if p.get("debug"):
        log.level = max(log.level, 5)


def _goq(s):
    from .log import go_quote
    return go_quote(s)


def _root_help():
    lines = ["Lima: Linux virtual machines (limasim: a simulator for tests)", "", "Usage:",
             "  limactl [command]", "", "Available Commands:"]
    for n in sorted(COMMANDS):
        lines.append("  %s" % n)
    lines += ["", "Flags:", "      --debug               debug mode", "  -h, --help                help for limactl",
              "      --log-format string   Set the logging format [text, json] (default \"text\")",
              "      --log-level string    Set the logging level [trace, debug, info, warn, error]",
              "      --tty                 Enable TUI interactions such as opening an editor",
              "  -v, --version             version for limactl", "  -y, --yes                 Alias of --tty=false",
              ""]
    return "\n".join(lines)
