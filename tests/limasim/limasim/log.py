"""logrus-compatible diagnostics: logfmt text on stderr (what limactl writes without a terminal,
and what dvm parses), JSON lines for the host agent's ha.stderr.log."""

import json
import sys
from datetime import datetime

from . import Exit

LEVELS = {"trace": 6, "debug": 5, "info": 4, "warning": 3, "warn": 3, "error": 2, "fatal": 1, "panic": 0}


def go_quote(s):
    """Go's strconv.Quote (what `%q` prints)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif 0xD800 <= o <= 0xDFFF:  # lone surrogate from surrogateescape'd bytes
            out.append("\\x%02x" % (o - 0xDC00) if o >= 0xDC80 else "\\ufffd")
        elif not ch.isprintable() and o > 0x7F:
            out.append("\\u%04x" % o if o <= 0xFFFF else "\\U%08x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _needs_quoting(s):
    # logrus TextFormatter.needsQuoting
    if s == "":
        return False
    for ch in s:
        if not (("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9") or ch in "-._/@^+"):
            return True
    return False


def _fmt_value(v):
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, (list, tuple)):
        s = "[" + " ".join(str(x) for x in v) + "]"
    else:
        s = str(v)
    return go_quote(s) if _needs_quoting(s) else s


def rfc3339_now():
    s = datetime.now().astimezone().isoformat(timespec="seconds")
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def _go_json(obj):
    # Go's encoding/json escapes <, > and & for HTML safety.
    s = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class Logger:
    def __init__(self, level="info", stream=None):
        self.level = LEVELS.get(level, 4)
        self.stream = stream if stream is not None else sys.stderr

    def enabled(self, level):
        return LEVELS[level] <= self.level

    def format(self, level, msg, fields=None):
        # logrus's TextFormatter without a terminal (dvm never gives limactl's stderr a tty).
        fields = dict(fields or {})
        parts = ["time=" + go_quote(rfc3339_now()), "level=" + level, "msg=" + _fmt_value(msg)]
        for k in sorted(fields):
            parts.append("%s=%s" % (k, _fmt_value(fields[k])))
        return " ".join(parts)

    def log(self, level, msg, **fields):
        if not self.enabled(level):
            return
        line = self.format(level, msg, fields)
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def debug(self, msg, **f):
        self.log("debug", msg, **f)

    def info(self, msg, **f):
        self.log("info", msg, **f)

    def warn(self, msg, **f):
        self.log("warning", msg, **f)

    def error(self, msg, **f):
        self.log("error", msg, **f)

    def fatal(self, msg, code=1, **f):
        """Print a fatal record and end the invocation (logrus.Fatal exits 1)."""
        self.log("fatal", msg, **f)
        raise Exit(code)


def json_record(level, msg, **fields):
    """A logrus JSON line (used by the host agent for ha.stderr.log)."""
    rec = {"level": level, "msg": msg, "time": rfc3339_now()}
    rec.update(fields)
    return _go_json(rec)
