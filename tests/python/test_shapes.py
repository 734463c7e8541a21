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


def described(struct):
    """The field names, in order, of `describe(const STRUCT&, V&)` in the one description that
    the CLI's JSON and the Python binding both render (libdvm/src/fields/dvm_fields.hpp)."""
    text = open(os.path.join(SOURCE, "libdvm", "src", "fields", "dvm_fields.hpp"), encoding="utf-8").read()
    m = re.search(r"void describe\(const %s& \w+, V& v\) \{\n(.*?)\n\}" % struct, text, re.S)
    assert m, f"no describe() of {struct} in dvm_fields.hpp"
    return re.findall(r'v\.field\("([a-z_]+)"', m.group(1))


def test_the_description_has_the_documented_names_in_order():
    keys, port_keys = vm_keys()
    assert described("vm_status") == keys
    assert described("port_forward") == port_keys


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
        # Only status reads the recipe states of a running VM (from its guest); ls leaves them out.
        assert listed[i]["recipe_states"] == []
        assert {**listed[i], "recipe_states": status["recipe_states"]} == status, \
            f"ls --json and status --json differ for {name}"
        assert (status["recipe_states"] != []) == (name == "app")
        native = client._native.status(name, None)
        assert sorted(native) == sorted(keys)
        assert {**native_listed[i], "recipe_states": native["recipe_states"]} == native, \
            f"client::list() and status() differ for {name}"
        python_status = client.status(name)
        assert python_listed[i] == dataclasses.replace(python_status, recipe_states=())
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


# JSON keys kept from schema 1 -> the library's and Python's name (docs/json.md, the last
# paragraphs; libdvm/src/fields/dvm_fields.hpp says each one).
RENAMED = {"limactl_calls": "calls", "check": "name", "source": "bundled"}


def same_fields(doc, native, json_only=(), python_only=()):
    """The CLI's JSON `doc` and the binding's `native` (both rendered from the one description
    of the type) name the same fields, bar the documented differences, with the same values."""
    if isinstance(doc, list):
        assert isinstance(native, list) and len(doc) == len(native)
        for d, n in zip(doc, native):
            same_fields(d, n, json_only, python_only)
        return
    assert isinstance(native, dict), (doc, native)
    shared = [k for k in doc if k != "schema" and k not in json_only]
    assert sorted(native) == sorted([RENAMED.get(k, k) for k in shared] + list(python_only))
    for k in shared:
        value, other = doc[k], native[RENAMED.get(k, k)]
        if k == "source":
            assert other is (value == "bundled")
        elif isinstance(value, (dict, list)) and (value and isinstance(value, dict) or
                                                  value and isinstance(value[0], dict)):
            same_fields(value, other)
        else:
            assert other == value, k


def test_cli_and_python_render_the_same_description(nosandbox_env):
    """recipes, templates, plan, version and doctor: the CLI's documents and the binding's dicts
    come from one description per type, so they differ only where docs/json.md says."""
    env = nosandbox_env
    env.vm("app", 'ports = ["3000:3000"]\nrecipes = ["git", "mine"]\nsecrets = ["TOKEN"]\n')
    env.recipe("mine", "# Requires: git\n# Service: dvm-mine.service env=MINE_UNIT\n"
               "# Secret: TOKEN alias=MY_TOKEN prefix=tk- charset=token\necho mine\n")
    client = env.client()
    native = client._native

    recipes = cli(env, "recipes", "--json")["recipes"]
    assert [r["source"] for r in recipes if r["name"] == "mine"] == ["user"]
    assert all("bundled" not in r for r in recipes)
    python_recipes = native.recipes(None)
    for doc, item in zip(recipes, python_recipes):
        if doc["path"] == "":  # a bundled recipe: no file
            assert item["path"] is None
            item = {**item, "path": ""}
        same_fields(doc, item)
    mine = next(r for r in python_recipes if r["name"] == "mine")
    assert mine["service"] == {"unit": "dvm-mine.service", "env": "MINE_UNIT"}
    assert mine["secrets"] == [{"name": "TOKEN", "alias": "MY_TOKEN", "prefix": "tk-", "charset": "token"}]

    same_fields(cli(env, "templates", "--json")["templates"], dvm._dvm.init_templates())
    plan = cli(env, "plan", "app", "--json")
    assert "limactl_calls" in plan and "calls" not in plan
    same_fields(plan, native.plan("app", None))

    version = cli(env, "version", "--json")
    versions = native.versions(None)
    assert versions["limactl"] and version["limactl"] == versions["limactl"]
    same_fields(version, versions, python_only=() if "limactl_problem" in version else ("limactl_problem",))

    r = subprocess.run([DVM, "doctor", "--json"], env=env.environment(), capture_output=True, text=True,
                       timeout=60, cwd=str(env.tmp))
    doctor = json.loads(r.stdout)
    checks = native.doctor("", None)
    assert checks and doctor["problems"] == sum(c["status"] == "problem" for c in checks)
    assert all("check" in c and "name" not in c for c in doctor["checks"])
    same_fields(doctor["checks"], checks)


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


def cpp_enum_names(enum):
    """The names `to_string(dvm::ENUM)` returns, from libdvm/src/printable.cpp."""
    text = open(os.path.join(SOURCE, "libdvm", "src", "printable.cpp"), encoding="utf-8").read()
    m = re.search(r"std::string_view to_string\(%s \w+\) noexcept \{\n(.*?)\n\}" % enum, text, re.S)
    assert m, f"no to_string({enum}) in printable.cpp"
    return set(re.findall(r'case [\w:]+: return "([^"]+)";', m.group(1)))


def test_python_enums_have_the_cpp_names():
    """dvm.VmState, DoctorStatus and StopAction are str enums whose values are the C++ names, so
    a value from the binding, the CLI's JSON and Python compare equal."""
    assert {s.value for s in dvm.VmState} == cpp_enum_names("vm_state") == \
        {"absent", "Unknown", "Uninitialized", "Installing", "Broken", "Stopped", "Running"}
    assert {s.value for s in dvm.DoctorStatus} == cpp_enum_names("doctor_status")
    assert {s.value for s in dvm.StopAction} == cpp_enum_names("stop_action")
    assert {s.value for s in dvm.Severity} == {"error", "warning"}  # (to_string(severity) is one line)
    assert dvm.VmState("Paused") is dvm.VmState.UNKNOWN  # a newer Lima's word: not an exception
    assert dvm.VmState.RUNNING == "Running" and str(dvm.VmState.RUNNING) == "Running"
