#!/usr/bin/env python3
"""No ELF file the build produces may load libraries from the working directory.

The dynamic loader reads an empty RUNPATH/RPATH entry (``[::::]``, CMake's padding for a later
install-time rewrite) or a relative one as relative to the *current directory*: `dvm` run inside
an untrusted checkout would then load that checkout's libc.so.6 or libstdc++.so.6. Every entry
must be absolute or start with $ORIGIN.

Usage: check_runpath.py DIR...   (exit 1 naming every offending file and entry)
"""
import os
import subprocess
import sys


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def search_paths(path):
    """The RUNPATH and RPATH entries of one ELF file, as readelf prints them."""
    out = subprocess.run(["readelf", "-d", "-W", path], capture_output=True, text=True, check=False).stdout
    entries = []
    for line in out.splitlines():
        if "(RUNPATH)" in line or "(RPATH)" in line:
            kind = "RUNPATH" if "(RUNPATH)" in line else "RPATH"
            value = line[line.index("[") + 1:line.rindex("]")]
            entries.extend((kind, entry) for entry in value.split(":"))
    return entries


def main(dirs):
    checked = 0
    bad = []
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [d for d in subdirs if d != "CMakeFiles"]  # object files: no dynamic section
            for name in files:
                path = os.path.join(root, name)
                if os.path.islink(path) or not is_elf(path):
                    continue
                checked += 1
                for kind, entry in sorted(set(search_paths(path))):
                    if not (entry.startswith("/") or entry.startswith("$ORIGIN")):
                        bad.append("%s: %s entry %r is relative to the working directory" % (path, kind, entry))
    for line in bad:
        print(line)
    print("checked %d ELF files in %s: %s" % (checked, ", ".join(dirs), "FAIL" if bad else "ok"))
    if checked == 0:
        print("no ELF file found: wrong directory?")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
