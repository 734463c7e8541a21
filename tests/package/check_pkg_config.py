"""package.pkg_config: a consumer built with nothing but `pkg-config --cflags --libs dvm` from
the installed tree (package.install), with -Wall -Wextra -Werror -pedantic, links and runs.

usage: check_pkg_config.py PREFIX PKGCONFIGDIR LIBDIR VERSION CONSUMER_CPP WORK_DIR"""

import os
import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    prefix, pcdir, libdir, version, source, work = sys.argv[1:7]
    prefix_path = Path(prefix)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix_path / pcdir), PKG_CONFIG_LIBDIR="")
    pkg_config = shutil.which("pkg-config")
    if pkg_config is None:
        print("pkg-config is not installed (scripts/dependencies.sh installs pkgconf)")
        return 1

    def pc(*args: str) -> str:
        r = subprocess.run([pkg_config, *args, "dvm"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"pkg-config {' '.join(args)} dvm failed with PKG_CONFIG_PATH="
                             f"{env['PKG_CONFIG_PATH']}: {r.stderr.strip()}")
        return r.stdout.strip()

    got = pc("--modversion")
    if got != version:
        print(f"pkg-config --modversion dvm says {got!r}, the project is {version!r}")
        return 1
    flags = pc("--cflags", "--libs").split()
    # The paths come from the .pc file's own location, not from CMAKE_INSTALL_PREFIX.
    include_flags = [f for f in flags if f.startswith("-I")]
    lib_flags = [f for f in flags if f.startswith("-L")]
    if not include_flags or not lib_flags:
        print(f"pkg-config gave no -I or -L: {flags}")
        return 1
    for flag in include_flags + lib_flags:
        if Path(flag[2:]).resolve() not in (
            (prefix_path / "include").resolve(), (prefix_path / libdir).resolve()
        ):
            print(f"{flag} is not inside the installed prefix {prefix}")
            return 1
    work_dir = Path(work)
    work_dir.mkdir(parents=True, exist_ok=True)
    binary = work_dir / "consumer"
    compile_cmd = ["c++", "-std=c++20", "-Wall", "-Wextra", "-Werror", "-pedantic", source,
                   "-o", str(binary), *flags]
    print("+", " ".join(compile_cmd))
    subprocess.run(compile_cmd, check=True)
    run_env = dict(os.environ, LD_LIBRARY_PATH=str(prefix_path / libdir))
    out = subprocess.run([str(binary)], env=run_env, check=True, capture_output=True, text=True)
    print(out.stdout, end="")
    if f"libdvm {version} OK" not in out.stdout:
        print("the consumer did not report the library version")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
