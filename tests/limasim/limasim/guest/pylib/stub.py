"""A command installed by the dnf5 stand-in for a package the host does not have.

Records argv/uid/cwd to /var/log/limasim/<command>.jsonl, answers --version, and otherwise
succeeds without doing anything (or hands over to a real program, e.g. zsh -> bash)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402


def main():
    pkg, cmd = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    spec = standin.catalog().get(pkg, {})
    version = spec.get("version", "1.0.0")
    target = spec.get("exec")
    if args[:1] in (["--version"], ["-V"], ["version"], ["-v"]):
        sys.stdout.write("%s %s (limasim stub from package %s)\n" % (cmd, version, pkg))
        sys.stdout.flush()
        standin.record(cmd, args, 0, package=pkg, stub=True)
        return 0
    if target:
        standin.record(cmd, args, None, package=pkg, stub=True, exec=target)
        os.execv(target, [cmd] + args)
    standin.record(cmd, args, 0, package=pkg, stub=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
