#!/usr/bin/env python3
"""Sync every configured VM whose name matches a shell-style pattern, then print a summary.

    sync_matching.py 'web-*' [--jobs 2] [--secret NAME ...]

Configuration and limactl come from the environment, as for the `dvm` CLI (DVM_CONFIG,
DVM_STATE, LIMACTL, LIMA_HOME, ...). `--secret NAME` hands the value of the host variable NAME
to every matching VM's sync through the API. Exit status: 0 when every VM synced, 1 when one
failed, 2 when nothing matched or the arguments are wrong, 130 on Ctrl-C.
"""

import argparse
import fnmatch
import os
import sys
import threading

import dvm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", help="shell-style pattern, e.g. 'web-*'")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="VMs synced at the same time")
    parser.add_argument("--secret", action="append", default=[], metavar="NAME",
                        help="a host environment variable to stage as a secret (repeatable)")
    args = parser.parse_args()

    client = dvm.Client()
    names = [n for n in client.vm_names() if fnmatch.fnmatchcase(n, args.pattern)]
    if not names:
        print(f"no configured VM matches {args.pattern!r} (in {client.config_dir})", file=sys.stderr)
        return 2

    print(f"syncing {len(names)} VM(s): {', '.join(names)}")
    lock = threading.Lock()  # events of different VMs arrive from different worker threads

    def progress(event: dvm.Event) -> None:
        if event.kind in (dvm.EventKind.RECIPE_FINISHED, dvm.EventKind.RECIPE_FAILED,
                          dvm.EventKind.VM_CREATING, dvm.EventKind.VM_STARTING, dvm.EventKind.WARNING):
            detail = event.name or event.message
            with lock:
                print(f"  [{event.vm}] {event.kind}: {detail} ({event.duration:.2f} s)", flush=True)

    if args.secret:
        # One sync per VM so that each gets the secrets; still one call per VM, in order.
        secrets = {name: os.environ[name] for name in args.secret if name in os.environ}
        outcomes = []
        for name in names:
            try:
                outcomes.append(dvm.SyncOutcome(name, True, client.sync(name, secrets, on_event=progress)))
            except dvm.Error as e:
                outcomes.append(dvm.SyncOutcome(name, False, None, e.code, str(e)))
        failed = sum(not o.ok for o in outcomes)
    else:
        result = client.sync_all(jobs=args.jobs, names=names, on_event=progress)
        outcomes, failed = list(result.outcomes), result.failed

    print()
    print(f"{'VM':<16} {'RESULT':<8} {'RECIPES':>7} {'TIME':>8}  DETAIL")
    for o in outcomes:
        if o.ok and o.result is not None:
            created = "created" if o.result.created else ("started" if o.result.started else "")
            print(f"{o.vm:<16} {'ok':<8} {len(o.result.recipes):>7} {o.result.duration:>7.2f}s  {created}")
        else:
            first_line = o.message.splitlines()[0] if o.message else ""
            print(f"{o.vm:<16} {o.error_code:<8} {'-':>7} {'-':>8}  {first_line}")
    print(f"\n{len(outcomes) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except dvm.Error as e:
        print(f"error ({e.code}): {e}", file=sys.stderr)
        sys.exit(e.exit_code)
