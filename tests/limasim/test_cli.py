"""Process-level behaviour: version, the --tty flag, logfmt diagnostics, what is not simulated."""

import json
import re

import pytest

LOGFMT = re.compile(r'^time="[^"]+" level=(\w+) msg=(.*)$')


def lines(b):
    return b.decode().splitlines()


def test_version_default_and_configured(limasim):
    r = limasim.run("--version")
    assert r.returncode == 0
    assert r.stdout == b"limactl version 2.0.3\n"
    limasim.configure(version="1.2.0")
    assert limasim.run("-v").stdout == b"limactl version 1.2.0\n"


def test_unknown_command_and_flag(limasim):
    r = limasim.run("frobnicate")
    assert r.returncode == 1
    m = LOGFMT.match(lines(r.stderr)[-1])
    assert m and m.group(1) == "fatal"
    assert "not simulated" in r.stderr.decode() and "frobnicate" in r.stderr.decode()
    r = limasim.run("list", "--bogus")
    assert r.returncode == 1
    assert "unknown flag: --bogus" in r.stderr.decode()


@pytest.mark.parametrize("argv", [["snapshot", "list"], ["info"], ["list"], ["ls", "--json"],
                                  ["create", "template:default"], ["start", "ghost"], ["stop", "a", "b"]])
def test_what_dvm_never_calls_is_refused_loudly(limasim, argv):
    r = limasim.run(*argv)
    assert r.returncode == 1
    assert "not simulated" in r.stderr.decode()


def test_global_flags_before_and_after_subcommand(limasim):
    limasim.create_instance("a", running=False)
    for argv in (["--tty=false", "list", "--json"], ["list", "--tty=false", "--json"]):
        r = limasim.run(*argv)
        assert r.returncode == 0, (argv, r.stderr)
        assert json.loads(r.stdout)["name"] == "a"


def test_logfmt_quoting(limasim):
    r = limasim.run("--tty=false", "stop", "nosuch")
    assert r.returncode == 1
    (line,) = lines(r.stderr)
    m = LOGFMT.match(line)
    assert m.group(1) == "fatal"
    # Go %q quoting of a message with spaces
    assert m.group(2) == '"open %s/nosuch/lima.yaml: no such file or directory"' % limasim.home


def test_quoting_style_switches_at_2_2(limasim):
    limasim.configure(version="2.2.0")
    r = limasim.run("delete", "ghost")
    assert "Ignoring non-existent instance `ghost`" in r.stderr.decode()


def test_startup_is_cheap(limasim):
    """`--version` and a warm `list --json` import no PyYAML and none of the heavy modules
    (deterministic stand-in for "a few tens of ms"; timings are for benchmarks)."""
    import subprocess
    limasim.create_instance("a", running=False)
    limasim.run("list", "--json")  # fills the parsed-config cache
    for argv in (["--version"], ["list", "--json"], ["list", "--json", "a"]):
        r = subprocess.run(["/usr/bin/python3", "-X", "importtime", limasim.limactl] + argv, env=limasim.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert r.returncode == 0
        imported = {ln.split("|")[-1].strip() for ln in r.stderr.decode().splitlines() if "import time:" in ln}
        assert not imported & {"yaml", "subprocess", "threading", "tarfile"}, (argv, imported)
