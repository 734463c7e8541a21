"""Sizes (docker/go-units), Go durations and Go float formatting."""

import re

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MULT = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(s):
    """go-units RAMInBytes: binary multiples, unit letters case-insensitive."""
    if isinstance(s, bool):
        raise ValueError("invalid size: %r" % (s,))
    if isinstance(s, (int, float)):
        return int(s)
    m = _SIZE_RE.match(str(s).strip())
    if not m:
        raise ValueError("invalid size: '%s'" % s)
    num = float(m.group(1))
    unit = m.group(2).lower() if m.group(2) else None
    return int(num * _MULT[unit])


def bytes_size(n):
    """go-units BytesSize: "%.4g%s" with binary units."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    size = float(n)
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return "%s%s" % (_g4(size), units[i])


def _g4(x):
    s = "%.4g" % x
    return s


_DUR_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DUR_MULT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(s):
    """Go time.ParseDuration, returns seconds (float)."""
    orig = s
    s = s.strip()
    neg = False
    if s[:1] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError('time: invalid duration "%s"' % orig)
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DUR_RE.match(s, pos)
        if not m:
            if re.match(r"\d", s[pos:]):
                raise ValueError('time: missing unit in duration "%s"' % orig)
            raise ValueError('time: invalid duration "%s"' % orig)
        total += float(m.group(1)) * _DUR_MULT[m.group(2)]
        pos = m.end()
    return -total if neg else total
