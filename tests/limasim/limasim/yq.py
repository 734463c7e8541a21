"""The subset of yq v4 expressions that `limactl --set` users need.

Supported: `.`, `PATH = VALUE`, `PATH |= VALUE`, `PATH += VALUE`, `del(PATH)`, several
joined with ` | `.  PATH: `.a.b`, `.a[0]`, `.a[]`, `.a["k"]`, `."k"`.  VALUE: a JSON/YAML
flow literal, another PATH, or `X + Y` concatenations of those.  Like Lima, the `env`,
`load`, `load_str` and `system` operators are refused.
"""

import copy
import re

import yaml


class YqError(Exception):
    pass


_FORBIDDEN = re.compile(r"\b(env|strenv|envsubst|load|load_str|load_xml|load_props|load_base64|system)\s*\(")


def _split_top(s, sep):
    """Split on sep outside quotes and brackets. sep is '|' or '+'."""
    out, buf, depth, quote, i = [], [], 0, None, 0
    while i < len(s):
        c = s[i]
        if quote:
            buf.append(c)
            if c == "\\" and quote == '"' and i + 1 < len(s):
                buf.append(s[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            buf.append(c)
        elif c in "[{(":
            depth += 1
            buf.append(c)
        elif c in "]})":
            depth -= 1
            buf.append(c)
        elif c == sep and depth == 0 and not (sep == "|" and s[i + 1:i + 2] == "="):
            if sep == "+" and s[i + 1:i + 2] == "=":
                buf.append(c)
            else:
                out.append("".join(buf))
                buf = []
        else:
            buf.append(c)
        i += 1
    if quote or depth:
        raise YqError("unbalanced quotes or brackets")
    out.append("".join(buf))
    return out


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_path(s):
    s = s.strip()
    if not s.startswith("."):
        raise YqError("expected a path starting with '.', got %r" % s)
    comps = []
    i = 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == ".":
            i += 1
            continue
        if c == "[":
            j = s.find("]", i)
            if j < 0:
                raise YqError("unterminated '[' in %r" % s)
            inner = s[i + 1:j].strip()
            if inner == "":
                comps.append(("each",))
            elif inner[0] in "\"'":
                comps.append(("key", yaml.safe_load(inner)))
            else:
                try:
                    comps.append(("idx", int(inner)))
                except ValueError:
                    raise YqError("invalid index %r in %r" % (inner, s))
            i = j + 1
            continue
        if c == '"':
            m = re.match(r'"((?:[^"\\]|\\.)*)"', s[i:])
            if not m:
                raise YqError("invalid quoted key in %r" % s)
            comps.append(("key", yaml.safe_load(m.group(0))))
            i += m.end()
            continue
        m = _IDENT.match(s, i)
        if not m:
            raise YqError("invalid path %r" % s)
        comps.append(("key", m.group(0)))
        i = m.end()
    return comps


def _get(data, comps):
    cur = data
    for comp in comps:
        if cur is None:
            return None
        if comp[0] == "key":
            cur = cur.get(comp[1]) if isinstance(cur, dict) else None
        elif comp[0] == "idx":
            if not isinstance(cur, list):
                return None
            try:
                cur = cur[comp[1]]
            except IndexError:
                return None
        else:
            raise YqError("'[]' is not supported on the right-hand side")
    return cur


def _set(node, comps, fn):
    """Return node with the value at comps replaced by fn(old)."""
    if not comps:
        return fn(node)
    comp, rest = comps[0], comps[1:]
    if comp[0] == "key":
        if node is None:
            node = {}
        if not isinstance(node, dict):
            raise YqError("cannot index %s with %r" % (type(node).__name__, comp[1]))
        node[comp[1]] = _set(node.get(comp[1]), rest, fn)
        return node
    if comp[0] == "idx":
        if node is None:
            node = []
        if not isinstance(node, list):
            raise YqError("cannot index %s with [%d]" % (type(node).__name__, comp[1]))
        idx = comp[1]
        while len(node) <= idx:
            node.append(None)
        node[idx] = _set(node[idx], rest, fn)
        return node
    # each
    if node is None:
        return node
    if isinstance(node, list):
        return [_set(x, rest, fn) for x in node]
    if isinstance(node, dict):
        for k in list(node):
            node[k] = _set(node[k], rest, fn)
        return node
    raise YqError("cannot iterate over %s" % type(node).__name__)


def _delete(node, comps):
    if not comps or node is None:
        return node
    comp, rest = comps[0], comps[1:]
    if not rest:
        if comp[0] == "key" and isinstance(node, dict):
            node.pop(comp[1], None)
        elif comp[0] == "idx" and isinstance(node, list) and -len(node) <= comp[1] < len(node):
            del node[comp[1]]
        elif comp[0] == "each":
            return [] if isinstance(node, list) else {}
        return node
    if comp[0] == "key" and isinstance(node, dict) and comp[1] in node:
        node[comp[1]] = _delete(node[comp[1]], rest)
    elif comp[0] == "idx" and isinstance(node, list) and -len(node) <= comp[1] < len(node):
        node[comp[1]] = _delete(node[comp[1]], rest)
    elif comp[0] == "each":
        if isinstance(node, list):
            node = [_delete(x, rest) for x in node]
    return node


def _value(data, text):
    parts = _split_top(text, "+")
    vals = []
    for p in parts:
        p = p.strip()
        if not p:
            raise YqError("empty operand in %r" % text)
        if p.startswith(".") and not re.match(r"^\.\d", p):
            vals.append(copy.deepcopy(_get(data, parse_path(p))))
        else:
            try:
                vals.append(yaml.safe_load(p))
            except yaml.YAMLError as e:
                raise YqError("invalid value %r: %s" % (p, str(e).splitlines()[0]))
    res = vals[0]
    for v in vals[1:]:
        if res is None:
            res = v
        elif v is None:
            continue
        elif isinstance(res, list) and isinstance(v, list):
            res = res + v
        elif isinstance(res, dict) and isinstance(v, dict):
            res = {**res, **v}
        elif isinstance(res, str) and isinstance(v, str):
            res = res + v
        elif isinstance(res, (int, float)) and isinstance(v, (int, float)) and not isinstance(res, bool):
            res = res + v
        else:
            raise YqError("cannot add %s to %s" % (type(v).__name__, type(res).__name__))
    return res


_ASSIGN = re.compile(r"^(?P<path>\.[^=|+]*?)\s*(?P<op>\|=|\+=|=)\s*(?P<value>.*)$", re.S)


def evaluate(expr, data):
    """Apply a yq expression to data (a parsed YAML document) and return the result."""
    if _FORBIDDEN.search(expr):
        raise YqError("the env, load, load_str and system operators are disabled")
    data = copy.deepcopy(data)
    for seg in _split_top(expr, "|"):
        seg = seg.strip()
        if seg in (".", ""):
            if seg == "":
                raise YqError("empty expression")
            continue
        m = re.match(r"^del\((.*)\)$", seg, re.S)
        if m:
            data = _delete(data, parse_path(m.group(1)))
            continue
        m = _ASSIGN.match(seg)
        if not m:
            raise YqError("unsupported expression %r" % seg)
        comps = parse_path(m.group("path"))
        op = m.group("op")
        value = _value(data, m.group("value"))
        if op in ("=", "|="):
            data = _set(data, comps, lambda old, v=value: copy.deepcopy(v))
        else:
            def add(old, v=value):
                if old is None:
                    return copy.deepcopy(v)
                if isinstance(old, list):
                    return old + (copy.deepcopy(v) if isinstance(v, list) else [copy.deepcopy(v)])
                if isinstance(old, str) and isinstance(v, str):
                    return old + v
                if isinstance(old, (int, float)) and isinstance(v, (int, float)):
                    return old + v
                raise YqError("cannot add %s to %s" % (type(v).__name__, type(old).__name__))
            data = _set(data, comps, add)
    return data
