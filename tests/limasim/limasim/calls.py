"""Call recording: `$LIMA_HOME/_sim/calls.jsonl` and the global call counter."""

import fcntl
import json
import os
import sys
import time


def scan_extra_fds():
    """File descriptors > 2 open at start-up (must run before anything opens files)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    out = []
    for x in sorted(int(n) for n in names if n.isdigit()):
        if x <= 2:
            continue
        try:
            os.stat(x)  # the descriptor listdir itself used is closed again by now
        except OSError:
            continue
        out.append(x)
    return out


class Locked:
    """Exclusive flock on a file for the duration of a with-block."""

    def __init__(self, path, flags=os.O_RDWR | os.O_CREAT):
        self.path = path
        self.flags = flags

    def __enter__(self):
        self.fd = os.open(self.path, self.flags, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self.fd

    def __exit__(self, *exc):
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


def next_call_number(sim):
    """Atomically increment `_sim/counter` and return the new (1-based) value."""
    sim.ensure_sim_dir()
    with Locked(os.path.join(sim.sim_dir, "counter")) as fd:
        raw = os.pread(fd, 64, 0).strip()
        n = int(raw) + 1 if raw.isdigit() else 1
        data = str(n).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    return n


def append_jsonl(path, obj):
    line = (json.dumps(obj, ensure_ascii=False, default=str, sort_keys=False) + "\n").encode("utf-8", "surrogateescape")
    with Locked(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) as fd:
        while line:
            n = os.write(fd, line)
            line = line[n:]


class Recorder:
    def __init__(self, sim, argv, extra_fds, start):
        self.sim = sim
        self.rec = {
            "call": None,
            "argv": list(argv[1:]),
            "argv0": argv[0] if argv else "",
            "subcommand": None,
            "instance": None,
            "env": dict(os.environ),
            "cwd": _cwd(),
            "stdin_bytes": 0,
            "stdin_isatty": _isatty(0),
            "stdout_isatty": _isatty(1),
            "exit_code": None,
            "signal": None,
            "start": start,
            "end": None,
            "pid": os.getpid(),
            "extra_fds": extra_fds,
            "faults": [],
        }
        self.done = False
        self.rec["call"] = next_call_number(sim)

    def set(self, **kw):
        self.rec.update(kw)

    def add_stdin(self, n):
        self.rec["stdin_bytes"] += n

    def finish(self, exit_code=None, signal=None):
        if self.done:
            return
        self.done = True
        self.rec["exit_code"] = exit_code
        self.rec["signal"] = signal
        self.rec["end"] = time.time()
        if not os.path.isdir(self.sim.lima_home):
            return  # LIMA_HOME was deleted while we ran: do not resurrect it
        try:
            append_jsonl(os.path.join(self.sim.ensure_sim_dir(), "calls.jsonl"), self.rec)
        except OSError as e:
            sys.stderr.write("limasim: could not record call: %s\n" % e)


class NullRecorder:
    def set(self, **kw):
        pass

    def add_stdin(self, n):
        pass

    def finish(self, exit_code=None, signal=None):
        pass


def _cwd():
    try:
        return os.getcwd()
    except OSError:
        return None


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False
