"""A small cobra/pflag look-alike: enough to parse limactl command lines the same way."""

TRUE = {"1", "t", "T", "TRUE", "true", "True"}
FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class ParseError(Exception):
    pass


class Flag:
    def __init__(self, name, short=None, kind="bool", default=None):
        self.name = name
        self.short = short
        self.kind = kind  # bool | string | array
        if default is None:
            default = {"bool": False, "array": [], "string": ""}[kind]
        self.default = default


# The root command's persistent flag dvm passes (valid before and after the subcommand).
GLOBAL_FLAGS = [Flag("tty", kind="bool")]


def parse_bool(name, s):
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise ParseError('invalid argument "%s" for "--%s" flag: strconv.ParseBool: parsing "%s": invalid syntax'
                     % (s, name, s))


class Parsed:
    def __init__(self):
        self.values = {}
        self.changed = set()
        self.args = []

    def get(self, name):
        return self.values.get(name)


def parse(tokens, flags, interspersed=True):
    """Parse tokens against flags (a list of Flag). Returns Parsed."""
    by_long = {f.name: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    p = Parsed()
    for f in flags:
        p.values[f.name] = list(f.default) if f.kind == "array" else f.default

    def setv(flag, raw):
        if flag.kind == "bool":
            val = parse_bool(flag.name, raw) if isinstance(raw, str) else raw
        else:
            val = raw
        if flag.kind == "array":
            if flag.name not in p.changed:
                p.values[flag.name] = []
            p.values[flag.name].append(val)
        else:
            p.values[flag.name] = val
        p.changed.add(flag.name)

    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        i += 1
        if tok == "--":
            p.args.extend(tokens[i:])
            break
        if tok.startswith("--") and len(tok) > 2:
            body = tok[2:]
            name, eq, val = body.partition("=")
            flag = by_long.get(name)
            if flag is None:
                raise ParseError("unknown flag: --%s" % name)
            if flag.kind == "bool":
                setv(flag, val if eq else True)
            elif eq:
                setv(flag, val)
            elif i < n:
                setv(flag, tokens[i])
                i += 1
            else:
                raise ParseError("flag needs an argument: --%s" % name)
            continue
        if tok.startswith("-") and len(tok) > 1:
            shorts = tok[1:]
            j = 0
            while j < len(shorts):
                c = shorts[j]
                flag = by_short.get(c)
                if flag is None:
                    raise ParseError("unknown shorthand flag: '%s' in -%s" % (c, shorts))
                rest = shorts[j + 1:]
                if flag.kind == "bool":
                    if rest.startswith("="):
                        setv(flag, rest[1:])
                        break
                    setv(flag, True)
                    j += 1
                    continue
                if rest.startswith("="):
                    setv(flag, rest[1:])
                elif rest:
                    setv(flag, rest)
                elif i < n:
                    setv(flag, tokens[i])
                    i += 1
                else:
                    raise ParseError("flag needs an argument: '%s' in -%s" % (c, shorts))
                break
            continue
        p.args.append(tok)
        if not interspersed:
            p.args.extend(tokens[i:])
            break
    return p


def find_subcommand(tokens, global_flags):
    """cobra's stripFlags: locate the subcommand among leading global flags.

    Returns (index of the subcommand token or None)."""
    by_long = {f.name: f for f in global_flags}
    by_short = {f.short: f for f in global_flags if f.short}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--":
            return None
        if tok.startswith("--"):
            name, eq, _ = tok[2:].partition("=")
            f = by_long.get(name)
            if not eq and f is not None and f.kind != "bool":
                i += 1
        elif tok.startswith("-") and len(tok) > 1:
            f = by_short.get(tok[1])
            if len(tok) == 2 and f is not None and f.kind != "bool":
                i += 1
        else:
            return i
        i += 1
    return None
