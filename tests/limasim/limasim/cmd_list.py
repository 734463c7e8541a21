"""`limactl list --json`: one JSON object per instance (the only form dvm uses)."""

import json
import os
import sys

from . import store


def cmd_list(ctx):
    sim, p, log = ctx.sim, ctx.p, ctx.log
    if not p.get("json"):
        log.fatal("limasim: `limactl list` without --json is not simulated")
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
    docs = []
    for n in names:
        try:
            inst = store.inspect(sim, n)
        except FileNotFoundError:
            log.fatal("unable to load instance %s: open %s: no such file or directory"
                      % (n, os.path.join(sim.inst_dir(n), "lima.yaml")))
        docs.append((inst, store.list_json(sim, inst)))
    for inst, d in docs:
        if d.get("errors"):
            log.warn("instance %s has errors" % json.dumps(inst.name), errors=d["errors"])
    # Indented for a terminal (or _LIMA_OUTPUT_IS_TTY), one line per instance otherwise.
    tty = _isatty(1) or bool(os.environ.get("_LIMA_OUTPUT_IS_TTY"))
    for _i, d in docs:
        d = store.delete_empty_objects(d)
        if tty:
            sys.stdout.write(json.dumps(d, indent=4, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n")
    if unmatched:
        log.fatal("unmatched instances")
    return 0


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False
