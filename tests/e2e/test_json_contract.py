"""The JSON contract: with --json every command prints one document (sync: JSON lines, then
the result; ssh, sh and log print the guest's own output), every object carries "schema": 2, and
errors are {"error": {"code", "message", "exit_code", ...}} with the stable codes. A VM is one
object with the field names of dvm::vm_status, in `status --json` and in `ls --json`."""

import json
import os
import subprocess

import pytest

from conftest import DVM, HOLD_RECIPE, release_held, wait_held

SCHEMA = 2
# dvm::vm_status's fields (libdvm/include/dvm/client.hpp), and the schema version.
VM_FIELDS = {"schema": int, "name": str, "instance": str, "state": str, "configured": bool, "ssh_address": str,
             "cpus": int, "memory_bytes": int, "disk_bytes": int, "arch": str, "vm_type": str, "dir": str,
             "code_dir": str, "recipes": list, "recreate_to_apply": list, "ports": list,
             "recipe_states": list}
PORT_FIELDS = {"host_ip": str, "host_port": int, "guest_port": int, "proto": str}
STABLE_CODES = {"usage", "config", "not_found", "not_created", "not_running", "lima_missing",
                "lima_version", "lima_failed", "guest_failed", "timeout", "busy", "refused",
                "cancelled", "io", "internal"}


def document(r):
    """The single JSON document on stdout (nothing else may be there)."""
    text = r.stdout.strip()
    assert "\n" not in text, f"more than one line on stdout: {text[:300]}"
    return json.loads(text)


def lines(r):
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def check_error(r, code, exit_code):
    assert r.returncode == exit_code, r.stdout + r.stderr
    doc = lines(r)[-1]
    assert doc["schema"] == SCHEMA
    err = doc["error"]
    assert err["code"] == code and err["code"] in STABLE_CODES
    assert isinstance(err["message"], str) and err["message"]
    assert err["exit_code"] == exit_code
    return err


def has(obj, **types):
    for key, t in types.items():
        assert key in obj, f"missing {key} in {obj}"
        assert isinstance(obj[key], t), f"{key} is {type(obj[key]).__name__}, expected {t}"


def test_config_commands_without_lima(dvm):
    doc = document(dvm.ok("init", "app", "--json"))
    assert doc["schema"] == SCHEMA
    has(doc, path=str, created=bool)
    doc = document(dvm.ok("plan", "app", "--json"))
    has(doc, schema=int, vm=str, instance=str, lima_yaml=str, limactl_calls=list, guest_program=str,
        secrets=list, warnings=list)
    for call in doc["limactl_calls"]:
        has(call, argv=list, stdin=str)
    doc = document(dvm.ok("recipes", "--json"))
    assert doc["schema"] == SCHEMA
    for recipe in doc["recipes"]:
        has(recipe, name=str, description=str, source=str, shadows_bundled=bool)
    assert {r["name"] for r in doc["recipes"]} >= {"baseline", "node", "agent-user"}
    doc = document(dvm.ok("version", "--json"))
    has(doc, schema=int, dvm=str, limactl=str)
    doc = document(dvm.run("version", "--json", env={"LIMACTL": "/nonexistent"}))
    assert doc["limactl"] is None and "limactl_problem" in doc
    doc = document(dvm.ok("templates", "--json"))
    has(doc, schema=int, templates=list)
    for t in doc["templates"]:
        assert set(t) == {"name", "description"}
    doc = document(dvm.ok("edit", "app", "--json", env={"EDITOR": "true", "VISUAL": None}))
    has(doc, schema=int, vm=str, path=str, valid=bool)
    doc = document(dvm.ok("plan", "app", "--summary", "--json"))
    has(doc, vm=str, lima_yaml=str)


def check_vm(vm):
    assert set(vm) == set(VM_FIELDS), sorted(set(vm) ^ set(VM_FIELDS))
    has(vm, **VM_FIELDS)
    for port in vm["ports"]:
        assert set(port) == set(PORT_FIELDS)
        has(port, **PORT_FIELDS)


@pytest.mark.usefixtures("sandbox")
def test_lifecycle_commands(dvm):
    dvm.vm("app", "baseline = false\n")
    dvm.vm("web", "baseline = false\n")
    r = dvm.ok("sync", "app", "--json")
    events = lines(r)
    assert all(e["schema"] == SCHEMA for e in events)
    for e in events[:-1]:
        has(e, event=str, vm=str)
    has(events[-1]["result"], vm=str, created=bool, started=bool, reconciled=list, recipes=list,
        limactl_calls=int, duration_ms=int)

    r = dvm.run("sync", "--all", "--json")
    assert r.returncode == 0, r.stderr
    summary = lines(r)[-1]
    has(summary, schema=int, results=list, ok=int, failed=int)
    assert summary["ok"] == 2

    listing = document(dvm.ok("ls", "--json"))
    assert isinstance(listing, list) and len(listing) == 2
    for vm in listing:
        check_vm(vm)
        assert not vm["name"].startswith("dvm-")
    # `status --json` is the very object `ls --json` lists.
    for vm in listing:
        assert document(dvm.ok("status", vm["name"], "--json")) == vm
    app = document(dvm.ok("info", "app", "--json"))
    assert app["state"] == "Running" and app["memory_bytes"] > 0

    (dvm.tmp / "notes.md").write_text("notes\n")
    doc = document(dvm.ok("cp", "notes.md", "app:", "--json"))
    assert doc.pop("duration_ms") >= 0
    assert doc == {"schema": SCHEMA, "vm": "app", "into_vm": True, "sources": ["notes.md"], "target": "app:",
                   "files": 1, "bytes": 6, "exit_code": 0}
    doc = document(dvm.ok("cp", "app:notes.md", "back.md", "--json"))
    assert (doc["vm"], doc["into_vm"], doc["files"], doc["bytes"], doc["exit_code"]) == ("app", False, 1, 6, 0)
    doc = document(dvm.ok("ssh-config", "app", "--json"))
    has(doc, schema=int, vm=str, host=str, ssh_config=str)
    doc = document(dvm.ok("restart", "web", "--json"))
    assert doc == {"schema": SCHEMA, "vm": "web", "started": True}

    doc = document(dvm.ok("ssh-key", "app", "--json"))
    has(doc, schema=int, access_public_key=str, signing_public_key=str, created=bool)
    doc = document(dvm.ok("gpg-key", "app", "--json"))
    has(doc, schema=int, fingerprint=str, armored_public_key=str, created=bool)
    doc = document(dvm.ok("doctor", "--json"))
    has(doc, schema=int, checks=list, problems=int, warnings=int)

    doc = document(dvm.ok("stop", "web", "--json"))
    has(doc, schema=int, vm=str, stopped=bool)
    doc = document(dvm.ok("start", "web", "--json"))
    assert doc == {"schema": SCHEMA, "vm": "web", "started": True}
    doc = document(dvm.ok("stop", "--all", "--json"))
    has(doc, schema=int, results=list, stopped=int, skipped=int, failed=int)
    doc = document(dvm.ok("start", "--all", "--json"))
    has(doc, schema=int, results=list, started=int, failed=int)
    assert doc["started"] == 2
    dvm.ok("stop", "web")
    doc = document(dvm.ok("rm", "web", "--yes", "--json"))
    has(doc, schema=int, vm=str, removed=bool, checked=bool, warnings=list)


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage) and a limactl of any version (sim.configure(version=...))")
def test_errors_use_the_stable_codes(dvm):
    check_error(dvm.run("sync", "--json"), "usage", 2)
    check_error(dvm.run("frobnicate", "--json"), "usage", 2)
    dvm.vm("bad", "cpus = 0\n")
    err = check_error(dvm.run("plan", "bad", "--json"), "config", 2)
    assert err["file"].endswith("vms/bad.toml") and err["line"] == 1 and err["column"] == 8
    assert err["key"] == "cpus" and "out of range" in err["rule"]
    check_error(dvm.run("status", "ghost", "--json"), "not_found", 2)
    dvm.vm("app", "")
    check_error(dvm.run("--json", "ssh", "app", "--", "true"), "not_created", 1)
    check_error(dvm.run("ls", "--json", env={"LIMACTL": "/nonexistent/limactl"}), "lima_missing", 3)
    # The version is cached per limactl binary (path, size, mtime); the simulated "upgrade"
    # changes only its config, so the cache goes too.
    cache = os.path.join(dvm.state, "cache", "limactl-version.json")
    if os.path.exists(cache):
        os.remove(cache)
    dvm.sim.configure(version="1.9.9")
    check_error(dvm.run("ls", "--json"), "lima_version", 3)
    dvm.sim.configure(version=None)
    os.remove(cache)
    dvm.sim.add_fault(action="fail", subcommand="list", exit_code=1, message="disk on fire", times=1)
    err = check_error(dvm.run("ls", "--json"), "lima_failed", 1)
    assert err["subcommand"] == "list" and "disk on fire" in err["message"]
    dvm.sim.add_fault(action="hang", subcommand="list", times=1)
    check_error(dvm.run("ls", "--json", env={"DVM_TIMEOUT": "1"}), "timeout", 1)


@pytest.mark.usefixtures("sandbox")
def test_guest_failures_refusals_and_busy(dvm):
    dvm.recipe("boom", "false\n")
    dvm.vm("app", 'baseline = false\nrecipes = ["boom"]\n')
    check_error(dvm.run("sync", "app", "--json"), "guest_failed", 1)
    dvm.vm("app", "baseline = false\n")
    dvm.guest("app", "mkdir -p ~/code/app && echo draft >~/code/app/notes.txt", user="developer")
    err = check_error(dvm.run("rm", "app", "--yes", "--json"), "refused", 1)
    assert "notes.txt" in err["message"]
    dvm.recipe("hold", HOLD_RECIPE)
    dvm.vm("app", 'baseline = false\nrecipes = ["hold"]\n')
    first = subprocess.Popen([DVM, "sync", "app"], env=dvm.environ(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_held(dvm, "app")
        check_error(dvm.run("sync", "app", "--json"), "busy", 1)
    finally:
        release_held(dvm, "app")
        first.wait(timeout=60)


# The commands whose --json is checked above; ssh, sh and log print the guest's own output, help
# and completion print text for people and shells.
COVERED = {"init", "plan", "recipes", "version", "templates", "edit", "sync", "ls", "status", "cp", "ssh-config",
           "restart", "ssh-key", "gpg-key", "doctor", "stop", "start", "rm"}
GUEST_OUTPUT = {"ssh", "sh", "log"}
TEXT_ONLY = {"help", "completion"}


def test_every_command_is_covered(dvm):
    out = dvm.ok("--help").stdout.split("Subcommands:\n")[1].split("\n\n")[0]
    names = {line.split()[0].rstrip(",") for line in out.splitlines() if line[:3].strip() and not line.startswith(" " * 6)}
    every = COVERED | GUEST_OUTPUT | TEXT_ONLY
    assert names == every, sorted(names ^ every)
