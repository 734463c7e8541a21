"""Host port clashes across VMs (issue 12, item 4): two configured VMs that forward one host
ip:port/proto (0.0.0.0 overlaps every address) -- `sync` refuses before any limactl call, `doctor`
reports a "ports" problem naming both VMs, and `dvm init` gives a second VM of one template the
next free host port. Nothing here boots a VM."""

import json


def doctor(dvm, *args):
    r = dvm.run("--json", "doctor", *args)
    return r.returncode, json.loads(r.stdout)


def port_problems(doc):
    return [c for c in doc["checks"] if c["check"] == "ports" and c["status"] == "problem"]


def test_sync_refuses_a_host_port_another_vm_forwards_before_any_limactl_call(dvm):
    app = dvm.vm("app", 'baseline = false\nports = ["3000:3000"]\n')
    web = dvm.vm("web", 'baseline = false\nports = ["9000:9000", "0.0.0.0:3000:8080"]\n')
    errors = {}
    for name, other, other_file in (("app", "web", web), ("web", "app", app)):
        r = dvm.run("sync", name)
        assert r.returncode == 2, r.stderr
        err = errors[name] = r.stderr
        assert f"VM {name} forwards a host port that another VM forwards too" in err
        assert f"VM {other} ({other_file}" in err and str(dvm.config / "vms" / f"{name}.toml") in err
        assert "host port 127.0.0.1:3000/tcp" in err
        assert "ports[0] of VM app" in err and "ports[1] of VM web" in err
    # The fix is named: a host port that is free, in the rule's own form.
    assert f'ports[0] = "3001:3000" in {app}' in errors["app"]
    assert f'ports[1] = "0.0.0.0:3001:8080" in {web}' in errors["web"]
    r = dvm.run("--json", "sync", "app")
    assert json.loads(r.stdout.splitlines()[-1])["error"]["code"] == "config"
    assert dvm.sim.calls() == []


def test_other_addresses_and_protocols_and_broken_files_do_not_count(dvm):
    dvm.vm("app", 'baseline = false\nports = ["3000:3000", {host = 5353, guest = 53, proto = "udp"}]\n')
    dvm.vm("lan", 'baseline = false\nports = ["127.0.0.2:3000:3000", "5353:53"]\n')
    dvm.vm("broken", 'ports = ["3000:3000"]\ncpus = "many"\n')
    # Past the clash check, the first limactl call is where this sync stops.
    dvm.sim.add_fault(action="fail", subcommand="*", message="stop here")
    r = dvm.run("sync", "app")
    assert r.returncode != 0 and "stop here" in r.stderr, r.stderr
    assert "another VM" not in r.stderr
    assert dvm.sim.calls()


def test_doctor_reports_each_clash_once_naming_both_vms(dvm):
    dvm.vm("app", 'baseline = false\nports = ["3000:3000"]\n')
    dvm.vm("web", 'baseline = false\nports = ["0.0.0.0:3000:8080"]\n')
    dvm.vm("quiet", 'baseline = false\nports = ["4000:4000"]\n')
    code, doc = doctor(dvm)
    assert code == 1
    found = port_problems(doc)
    assert len(found) == 1, found
    assert found[0]["vm"] == "app"
    message = found[0]["message"]
    assert "host port 127.0.0.1:3000/tcp" in message
    assert "VM app (" + str(dvm.config / "vms" / "app.toml") in message
    assert "VM web (" + str(dvm.config / "vms" / "web.toml") in message
    # Checking one VM still sees the other VMs' files.
    code, doc = doctor(dvm, "web")
    assert code == 1
    assert [c["vm"] for c in port_problems(doc)] == ["web"]
    code, doc = doctor(dvm, "quiet")
    assert port_problems(doc) == []


def test_init_gives_a_second_vm_the_next_free_host_port(dvm):
    r = dvm.ok("init", "one")
    assert 'ports = ["3000:3000"]' in (dvm.config / "vms" / "one.toml").read_text()
    assert "warning" not in r.stderr
    r = dvm.ok("init", "two")
    text = (dvm.config / "vms" / "two.toml").read_text()
    assert 'ports = ["3001:3000"]' in text
    assert "host port 3000/tcp is already forwarded by VM one" in r.stderr
    assert '"3001:3000" instead of "3000:3000"' in r.stderr
    r = dvm.ok("init", "three")
    assert 'ports = ["3002:3000"]' in (dvm.config / "vms" / "three.toml").read_text()
    # llama: 8080, and the comment that names the URL follows.
    dvm.ok("init", "l1", "--template", "llama")
    dvm.ok("init", "l2", "--template", "llama")
    text = (dvm.config / "vms" / "l2.toml").read_text()
    assert 'ports = ["8081:8080"]' in text and "http://127.0.0.1:8081" in text
    assert "LLAMA_PORT = 8080" in text
    # An existing file is left alone, and says nothing about ports.
    r = dvm.ok("init", "two")
    assert "already forwarded" not in r.stderr
    # No two of them clash.
    code, doc = doctor(dvm)
    assert port_problems(doc) == []
