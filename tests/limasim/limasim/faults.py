"""Fault injection driven by the `faults` list of `_sim/config.json`.

Each entry is an object:
  action        fail | hang | die_mid_stdin | garbage | slow            (required)
  subcommand    name or list of names ("*" = any)
  instance      instance name the call targets
  argv_contains list of strings that must all be elements of argv
  times         how many times the fault may fire (default: unlimited)
  ...           action parameters (see tests/limasim/README.md)
All given selectors must match.  Fired counts are kept in `_sim/faults-state.json`.
"""

import hashlib
import json
import os
import time

from .calls import Locked

TERMINAL = ("fail", "hang", "garbage", "die_mid_stdin")
KNOWN = TERMINAL + ("slow",)


def _as_list(v):
    return v if isinstance(v, list) else [v]


def matches(fault, subcommand, argv, instance):
    if "subcommand" in fault:
        subs = _as_list(fault["subcommand"])
        if "*" not in subs and subcommand not in subs:
            return False
    if "instance" in fault and instance not in _as_list(fault["instance"]):
        return False
    if "argv_contains" in fault:
        for s in _as_list(fault["argv_contains"]):
            if s not in argv:
                return False
    return True


def _key(i, fault):
    return "%d:%s" % (i, hashlib.sha1(json.dumps(fault, sort_keys=True).encode()).hexdigest()[:12])


def select(sim, subcommand, argv, instance):
    """Return (slow_ms, terminal_fault_or_None) for this call, consuming `times`."""
    faults = sim.get("faults") or []
    if not faults:
        return 0, None
    candidates = []
    for i, f in enumerate(faults):
        if not isinstance(f, dict) or f.get("action") not in KNOWN:
            raise SystemExit("limasim: invalid fault entry #%d: %r" % (i, f))
        if matches(f, subcommand, argv, instance):
            candidates.append((i, f))
    if not candidates:
        return 0, None
    slow = 0
    terminal = None
    state_path = os.path.join(sim.ensure_sim_dir(), "faults-state.json")
    with Locked(os.path.join(sim.sim_dir, "faults.lock")):
        try:
            with open(state_path) as fh:
                state = json.load(fh)
        except (FileNotFoundError, ValueError):
            state = {}
        for i, f in candidates:
            k = _key(i, f)
            used = state.get(k, 0)
            if "times" in f and used >= int(f["times"]):
                continue
            if f["action"] == "slow":
                slow += int(f.get("ms", 0))
            elif terminal is None:
                terminal = f
            else:
                continue
            state[k] = used + 1
        tmp = state_path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(state, fh)
        os.replace(tmp, state_path)
    return slow, terminal


def hang_forever():
    # Sleep until killed; the process owns no children at this point.
    while True:
        time.sleep(3600)
