"""ABI honesty: every symbol libdvm.so exports is in the inline namespace dvm::v0, so a program
built against another ABI generation fails to link or load instead of misbehaving, and nothing
private (client::impl, dvm::v0::detail) is exported.

usage: check_abi_namespace.py LIBDVM_SO
"""

import re
import subprocess
import sys


def exported_symbols(library):
    out = subprocess.run(["nm", "-D", "-C", "--defined-only", library], capture_output=True, text=True,
                         check=True).stdout
    return [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]


def main():
    symbols = [s for s in exported_symbols(sys.argv[1]) if re.search(r"\bdvm::", s)]
    problems = []
    if len(symbols) < 50:
        problems.append(f"only {len(symbols)} dvm symbols: is this libdvm.so?")
    for s in symbols:
        if any(ns != "v0" for ns in re.findall(r"\bdvm::(\w+)", s)):
            problems.append(f"not in dvm::v0: {s}")
        if "dvm::v0::client::impl" in s or "dvm::v0::detail::" in s or "config_detail::" in s:
            problems.append(f"private but exported: {s}")
    for expected in ("dvm::v0::version()", "dvm::v0::validate(", "dvm::v0::client::sync("):
        if not any(s.startswith(expected) for s in symbols):
            problems.append(f"missing: {expected}...")
    for p in problems:
        print(p)
    print(f"{len(symbols)} exported dvm symbols checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
