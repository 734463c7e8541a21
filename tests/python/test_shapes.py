"""One shape per concept: the per-VM object has the same keys in the CLI's JSON (`status --json`,
`ls --json`), in C++ (`dvm::vm_status`, and what the binding hands over from it) and in Python
(`dvm.VmStatus`), and they are the keys docs/json.md documents. The list is read from the doc's
example (`<!-- shape: vm_status -->`), so the doc cannot drift from the code.
"""

import dataclasses
import json
import os
import re
import subprocess

import dvm
from conftest import SOURCE

DOC = os.path.join(SOURCE, "docs", "json.md")
DVM = os.environ.get("DVM_BINARY") or os.path.join(SOURCE, "build", "test", "dvm")
SCHEMA = 2


def documented(shape):
    """The JSON example that follows `<!-- shape: NAME -->` in docs/json.md."""
    text = open(DOC, encoding="utf-8").read()
    m = re.search(r"<!-- shape: %s -->\s*```json\n(.*?)\n```" % re.escape(shape), text, re.S)
    assert m, f"docs/json.md has no ```json block after <!-- shape: {shape} -->"
    return json.loads(m.group(1))


def vm_keys():
    doc = documented("vm_status")
    assert doc.pop("schema") == SCHEMA
    return list(doc), list(doc["ports"][0])


def cpp_members(header, struct):
    """The data members of `struct NAME { ... };` in a public header, in declaration order."""
    text = open(os.path.join(SOURCE, "libdvm", "include", "dvm", header), encoding="utf-8").read()
    m = re.search(r"struct %s \{\n(.*?)\n\};" % struct, text, re.S)
    assert m, f"no struct {struct} in {header}"
    members = []
    for line in m.group(1).splitlines():
        line = line.split("//")[0].strip()
        d = re.match(r"[\w:<>, ]+?[\s>]([a-z_][a-z0-9_]*)\s*(=[^;]*)?;$", line)
        if d and not line.startswith(("friend", "using", "static")):
            members.append(d.group(1))
    return members


def test_the_doc_example_is_the_documented_table():
    keys, _ = vm_keys()
    text = open(DOC, encoding="utf-8").read()
    table = text.split("<!-- shape: vm_status -->", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in table.splitlines() if r.startswith("| `")]
    named = {k for r in rows for k in re.findall(r"`([a-z_]+)`", r.split("|")[1])}
    assert named == set(keys)


def test_cpp_structs_use_the_documented_names():
    keys, port_keys = vm_keys()
    assert sorted(cpp_members("client.hpp", "vm_status")) == sorted(keys)
    assert sorted(cpp_members("ports.hpp", "port_forward")) == sorted(port_keys)


def test_python_dataclasses_use_the_documented_names():
    keys, port_keys = vm_keys()
    assert sorted(f.name for f in dataclasses.fields(dvm.VmStatus)) == sorted(keys)
    assert sorted(f.name for f in dataclasses.fields(dvm.PortForward)) == sorted(port_keys)


def cli(env, *args):
    r = subprocess.run([DVM, *args], env=env.environment(), capture_output=True, text=True, timeout=60,
                       cwd=str(env.tmp))
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def test_every_vm_has_the_same_object_everywhere(nosandbox_env):
    """A running configured VM, an absent one and an instance without a VM file: status and list
    give the same object, with the documented keys, in the CLI, the binding and Python."""
    env = nosandbox_env
    keys, port_keys = vm_keys()
    env.vm("app", 'ports = ["3000:3000"]\nrecipes = ["git"]\n')
    env.vm("absent", 'ports = [{ host = 4000, guest = 4000, proto = "udp" }]\n')
    env.sim.create_instance("dvm-app")
    env.sim.create_instance("dvm-orphan", running=False)
    client = env.client()

    listed = cli(env, "ls", "--json")
    assert [o["name"] for o in listed] == ["absent", "app", "orphan"]
    native_listed = client._native.list(None)
    python_listed = client.list()
    for i, name in enumerate(["absent", "app", "orphan"]):
        status = cli(env, "status", name, "--json")
        assert status["schema"] == SCHEMA and listed[i]["schema"] == SCHEMA
        assert sorted(status) == sorted(["schema", *keys])
        assert listed[i] == status, f"ls --json and status --json differ for {name}"
        native = client._native.status(name, None)
        assert sorted(native) == sorted(keys)
        assert native_listed[i] == native, f"client::list() and status() differ for {name}"
        assert python_listed[i] == client.status(name)
        for p in status["ports"] + native["ports"]:
            assert sorted(p) == sorted(port_keys)
        # The same values, not only the same names.
        assert {k: v for k, v in status.items() if k != "schema"} == native

    app = python_listed[1]
    assert app.state == "Running" and app.configured and app.ssh_address and app.dir
    assert [str(p) for p in app.ports] == ["127.0.0.1:3000->3000/tcp"]
    assert app.code_dir and "git" in app.recipes
    absent = python_listed[0]
    assert absent.state == "absent" and [p.proto for p in absent.ports] == ["udp"] and absent.memory_bytes
    orphan = python_listed[2]
    assert orphan.state == "Stopped" and not orphan.configured and orphan.code_dir == ""


def test_event_kinds_are_the_documented_ones():
    text = open(DOC, encoding="utf-8").read()
    table = text.split("<!-- shape: event kinds -->", 1)[1].split("\n\n", 1)[0]
    documented_kinds = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    python_kinds = {k.value for k in dvm.EventKind if k is not dvm.EventKind.UNKNOWN}
    assert documented_kinds == python_kinds
    header = open(os.path.join(SOURCE, "libdvm", "include", "dvm", "events.hpp"), encoding="utf-8").read()
    enum = re.search(r"enum class event_kind \{(.*?)\};", header, re.S).group(1)
    cpp_kinds = set(re.findall(r"^\s*([a-z_]+),", re.sub(r"//.*", "", enum), re.M))
    assert cpp_kinds == python_kinds


def test_the_doc_says_schema_2_everywhere():
    text = open(DOC, encoding="utf-8").read()
    assert '"schema": 1' not in text and '"schema": 2' in text
