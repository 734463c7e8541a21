"""`limactl list`: NDJSON, YAML, table, go-template and quiet output."""

import json
import os
import re
import sys

from . import Exit, store
from .units import bytes_size

GO_FIELDS = ["Name", "Hostname", "Status", "Dir", "VMType", "Arch", "CPUs", "Memory", "Disk", "Message",
             "AdditionalDisks", "Networks", "SSHLocalPort", "SSHConfigFile", "HostAgentPID", "DriverPID",
             "Errors", "Config", "SSHAddress", "Protected", "LimaVersion", "Param", "HostOS", "HostArch",
             "LimaHome", "IdentityFile"]
GO_TO_JSON = {"Networks": "network", "VMType": "vmType", "CPUs": "cpus", "SSHLocalPort": "sshLocalPort",
              "SSHConfigFile": "sshConfigFile", "HostAgentPID": "hostAgentPID", "DriverPID": "driverPID",
              "SSHAddress": "sshAddress", "HostOS": "HostOS", "HostArch": "HostArch", "LimaHome": "LimaHome",
              "IdentityFile": "IdentityFile"}
ZERO = {"CPUs": 0, "Memory": 0, "Disk": 0, "SSHLocalPort": 0, "HostAgentPID": 0, "DriverPID": 0,
        "Protected": False}


def cmd_list(ctx):
    sim, p, log = ctx.sim, ctx.p, ctx.log
    fmt = p.get("format")
    if p.get("json"):
        if "format" in p.changed:
            log.fatal("option --json conflicts with option --format")
        fmt = "json"
    if p.get("list-fields"):
        if "format" in p.changed:
            log.fatal("option --list-fields conflicts with option --format")
        sys.stdout.write("\n".join(sorted(GO_FIELDS)) + "\n")
        return 0
    yqs = p.get("yq") or []
    filters = p.get("filter") or []
    if yqs and "format" in p.changed and fmt not in ("json", "yaml"):
        log.fatal("option --yq only works with --format json or yaml")
    if yqs and "format" not in p.changed:
        fmt = "json"
    if p.get("quiet") and fmt != "table":
        log.fatal("option --quiet can only be used with '--format table'")
    all_names = sim.instance_names()
    if not ctx.args and not all_names:
        log.warn("No instance found. Run `limactl create` to create an instance.")
        return 0
    names = []
    unmatched = False
    if ctx.args:
        for a in ctx.args:
            if a in all_names:
                names.append(a)
            else:
                log.warn("No instance matching %s found." % a)
                unmatched = True
    else:
        names = all_names
    if p.get("quiet") and not yqs and not filters:
        for n in names:
            sys.stdout.write(n + "\n")
        return _finish(ctx, unmatched)
    docs = []
    for n in names:
        try:
            inst = store.inspect(sim, n)
        except FileNotFoundError:
            log.fatal("unable to load instance %s: open %s: no such file or directory"
                      % (n, os.path.join(sim.inst_dir(n), "lima.yaml")))
        docs.append((inst, store.list_json(sim, inst)))
    if filters:
        docs = [(i, d) for i, d in docs if all(_filter(ctx, f, d) for f in filters)]
    if p.get("quiet"):
        for _i, d in docs:
            sys.stdout.write(d["name"] + "\n")
        return _finish(ctx, unmatched)
    for inst, d in docs:
        if d.get("errors"):
            log.warn("instance %s has errors" % json.dumps(inst.name), errors=d["errors"])
    out = sys.stdout
    if fmt == "json":
        tty = _isatty(1) or bool(os.environ.get("_LIMA_OUTPUT_IS_TTY"))
        for _i, d in docs:
            if sim.at_least("2.0.0"):
                d = store.delete_empty_objects(d)
                for e in yqs:
                    d = _yq(ctx, e, d)
                if tty:
                    out.write(json.dumps(d, indent=4, ensure_ascii=False) + "\n")
                else:
                    out.write(json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n")
            else:
                out.write(_go_json(d) + "\n")
    elif fmt == "yaml":
        import yaml
        first = True
        for _i, d in docs:
            if sim.at_least("2.0.0"):
                d = store.delete_empty_objects(d)
                for e in yqs:
                    d = _yq(ctx, e, d)
            else:
                d = {"instance": d}
            if not first:
                out.write("---\n")
            first = False
            out.write(yaml.safe_dump(d, sort_keys=False, allow_unicode=True, default_flow_style=False))
    elif fmt == "table":
        _table(docs, out)
    elif fmt.strip().startswith("{{") or "{{" in fmt:
        for _i, d in docs:
            out.write(_template(ctx, fmt, d) + "\n")
    else:
        log.fatal("unsupported format: %s" % json.dumps(fmt))
    return _finish(ctx, unmatched)


def _finish(ctx, unmatched):
    if unmatched:
        if ctx.sim.at_least("2.0.0"):
            ctx.log.fatal("unmatched instances")
        raise Exit(1)
    return 0


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _go_json(obj):
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _table(docs, out):
    home = os.path.expanduser("~")
    rows = [["NAME", "STATUS", "SSH", "VMTYPE", "ARCH", "CPUS", "MEMORY", "DISK", "DIR"]]
    for _i, d in docs:
        dr = d["dir"]
        if dr == home or dr.startswith(home.rstrip("/") + "/"):
            dr = "~" + dr[len(home.rstrip("/")):]
        rows.append([d["name"], d["status"], "%s:%d" % (d.get("sshAddress", "127.0.0.1"), d.get("sshLocalPort", 0)),
                     d.get("vmType", ""), d.get("arch", ""), str(d.get("cpus", 0)),
                     bytes_size(d.get("memory", 0)), bytes_size(d.get("disk", 0)), dr])
    widths = [max(4, max(len(r[c]) for r in rows) + 4) for c in range(len(rows[0]))]
    for r in rows:
        line = "".join(cell.ljust(widths[i]) if i < len(r) - 1 else cell for i, cell in enumerate(r))
        out.write(line + "\n")


# --------------------------------------------------------------------------------------------
# go templates (subset): {{.Field.Sub}}, {{json .X}}, {{yaml .X}}, {{.X | json}}, printf


def _lookup_go(d, chain, whole):
    cur = d
    for i, part in enumerate(chain):
        if i == 0 and isinstance(cur, dict) and cur is d:
            if part not in GO_FIELDS:
                raise ValueError('can\'t evaluate field %s in type *store.Instance' % part)
            key = GO_TO_JSON.get(part, part[0].lower() + part[1:])
            if key not in cur:
                return ZERO.get(part, "")
            cur = cur[key]
            continue
        if isinstance(cur, dict):
            match = [k for k in cur if k.lower() == part.lower()]
            if not match:
                return ""
            cur = cur[match[0]]
        else:
            raise ValueError("can't evaluate field %s in type %s" % (part, type(cur).__name__))
    return cur


def _go_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, _go_str(v[k])) for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_str(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    return str(v)


def _eval_action(ctx, action, d):
    parts = [s.strip() for s in action.split("|")]
    val = None
    for i, seg in enumerate(parts):
        toks = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', seg)
        if not toks:
            raise ValueError("missing value for command")
        fn, rest = toks[0], toks[1:]
        if fn.startswith("."):
            val = d if fn == "." else _lookup_go(d, fn[1:].split("."), d)
            continue
        argsv = [(_lookup_go(d, t[1:].split("."), d) if t.startswith(".") and t != "." else
                  (d if t == "." else json.loads(t) if t.startswith('"') else t)) for t in rest]
        if i > 0:
            argsv.append(val)
        if fn == "json":
            val = json.dumps(argsv[-1], separators=(",", ":"), ensure_ascii=False)
        elif fn == "yaml":
            import yaml
            val = yaml.safe_dump(argsv[-1], sort_keys=False).rstrip("\n")
        elif fn == "printf":
            f = argsv[0]
            vals = argsv[1:]
            val = re.sub(r"%[-+# 0]*\d*(?:\.\d+)?[vsdqt%]", lambda m, it=iter(vals): "%" if m.group(0) == "%%"
                         else _go_str(next(it, "")), f)
        elif fn == "missing":
            val = ""
        else:
            raise ValueError('function "%s" not defined' % fn)
    return _go_str(val) if not isinstance(val, str) else val


def _template(ctx, fmt, d):
    out = []
    pos = 0
    for m in re.finditer(r"\{\{-?\s*(.*?)\s*-?\}\}", fmt, re.S):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        try:
            out.append(_eval_action(ctx, m.group(1), d))
        except (ValueError, KeyError) as e:
            ctx.log.fatal('template: format:1:%d: executing "format" at <%s>: %s'
                          % (m.start() + 2, m.group(1), e))
    out.append(fmt[pos:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# --filter / --yq (small subset: comparisons and paths)


def _path_get(d, path):
    from .yq import parse_path, _get
    return _get(d, parse_path(path))


def _filter(ctx, expr, d):
    m = re.match(r'^\s*(\.[^=!<>]+?)\s*(==|!=)\s*(.+?)\s*$', expr)
    if not m:
        ctx.log.fatal("limasim: unsupported --filter expression %s (supported: .path == value, .path != value)"
                      % json.dumps(expr))
    import yaml
    lhs = _path_get(d, m.group(1))
    rhs = yaml.safe_load(m.group(3))
    return (lhs == rhs) if m.group(2) == "==" else (lhs != rhs)


def _yq(ctx, expr, d):
    if re.match(r"^\s*\.[\w.\[\]\"]*\s*$", expr):
        return _path_get(d, expr.strip()) if expr.strip() != "." else d
    from .yq import YqError, evaluate
    try:
        return evaluate(expr, d)
    except YqError as e:
        ctx.log.fatal("limasim: unsupported --yq expression %s: %s" % (json.dumps(expr), e))
