"""The package itself: version, layout, helpers, errors and the calls that need no guest."""

import os
import re
import subprocess
import sys

import pytest

import dvm
from dvm import _dvm
from conftest import SOURCE


def project_version():
    text = open(os.path.join(SOURCE, "CMakeLists.txt")).read()
    return re.search(r"project\(dvm\s+VERSION\s+([0-9.]+)", text).group(1)


def test_version_is_the_cpp_library_version():
    assert dvm.__version__ == _dvm.version()  # dvm::version() at run time
    assert dvm.__version__ == _dvm.compiled_version  # what the extension was compiled against
    assert dvm.__version__ == project_version()


def test_version_matches_the_cli():
    binary = os.environ.get("DVM_BINARY")
    if not binary or not os.path.exists(binary):
        pytest.skip("DVM_BINARY not set (ctest sets it)")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert dvm.__version__ in out


def test_package_ships_stubs_and_py_typed():
    pkg = os.path.dirname(dvm.__file__)
    assert os.path.isfile(os.path.join(pkg, "py.typed"))
    assert os.path.isfile(os.path.join(pkg, "_dvm.pyi"))
    assert os.path.basename(_dvm.__file__).startswith("_dvm.")  # the compiled module, next to it
    stub = open(os.path.join(pkg, "_dvm.pyi")).read()
    for name in ("sync", "sync_all", "exec", "copy", "logs", "stop_all", "check_unsaved_work"):
        assert f"def {name}(" in stub
        assert hasattr(_dvm.NativeClient, name)


def test_public_names():
    for name in dvm.__all__:
        assert hasattr(dvm, name), name
    for method in ("list", "status", "sync", "sync_all", "plan", "exec", "stop", "stop_all", "remove",
                   "check_unsaved_work", "copy", "logs", "ssh_key", "gpg_key", "init_config", "versions",
                   "shell", "config", "recipes", "vm_names", "start", "restart", "ssh_config"):
        assert callable(getattr(dvm.Client, method)), method


def test_error_hierarchy_and_codes():
    codes = dvm.error_codes()
    assert codes["config"] == 2 and codes["usage"] == 2 and codes["not_found"] == 2
    assert codes["lima_missing"] == 3 and codes["cancelled"] == 130 and codes["lima_failed"] == 1
    for cls in (dvm.ConfigError, dvm.LimaError, dvm.NotFoundError, dvm.UsageError, dvm.UnsavedWorkError):
        assert issubclass(cls, dvm.Error)
    assert issubclass(dvm.UsageError, ValueError)
    assert issubclass(dvm.NotFoundError, LookupError)


def test_errors_pickle_with_their_attributes():
    import pickle
    e = dvm.ConfigError("f:1:2: x: bad", path=None, line=1, column=2, key="x", rule="bad")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is dvm.ConfigError and (back.line, back.column, back.key, back.code) == (1, 2, "x", "config")
    assert str(back) == "f:1:2: x: bad"


def test_helpers():
    assert dvm.parse_size("2GiB") == 2 << 30
    assert dvm.format_size(1536 << 20) == "1536MiB"
    assert dvm.is_valid_vm_name("app") and not dvm.is_valid_vm_name("App")
    p = dvm.parse_port_forward("0.0.0.0:8080:80")
    assert (p.host_ip, p.host_port, p.guest_port, p.proto) == ("0.0.0.0", 8080, 80, "tcp")
    assert str(p) == "0.0.0.0:8080->80/tcp"
    assert "app" in dvm.init_templates()
    with pytest.raises(dvm.ConfigError) as info:
        dvm.parse_size("lots")
    assert info.value.code == "config" and info.value.exit_code == 2


def test_init_config_plan_and_config(tmp_path):
    client = dvm.Client(config_dir=tmp_path / "config", state_dir=tmp_path / "state",
                        environment={"PATH": "/usr/bin:/bin"})
    assert client.config_dir == tmp_path / "config"
    r = client.init_config("web")
    assert r.created and r.path == tmp_path / "config" / "vms" / "web.toml" and r.path.is_file()
    assert client.init_config("web").created is False  # never overwrites
    assert client.vm_names() == ["web"]
    cfg = client.config("web")
    assert cfg.name == "web" and cfg.instance == "dvm-web" and cfg.file == r.path and cfg.cpus >= 1
    plan = client.plan("dvm-web")  # the instance name is accepted too
    assert plan.instance == "dvm-web" and "limactl" == plan.calls[0].argv[0]
    assert [c.argv[1] for c in plan.calls][:2] == ["--version", "list"]
    assert "images:" in plan.lima_yaml or "base:" in plan.lima_yaml
    with pytest.raises(dvm.UsageError):
        client.init_config("web2", template="nope")
    with pytest.raises(dvm.UsageError):
        client.plan("Bad_Name")
    recipes = {r.name: r for r in client.recipes()}
    assert {"baseline", "node", "git"} <= set(recipes)
    # The facts of the recipes' header lines, as `dvm recipes --json` shows them.
    assert recipes["codex"].requires == ("agent-user",) and recipes["node"].requires == ()
    assert recipes["llama"].service == dvm.RecipeService("dvm-llama.service", "LLAMA_SERVICE")
    assert recipes["git"].service is None
    assert recipes["agent-user"].has_every_sync and not recipes["agent-user"].always
    assert recipes["chezmoi"].always and not recipes["git"].has_every_sync
    assert recipes["tailscale"].secrets == (
        dvm.RecipeSecret("TAILSCALE_AUTH_KEY", "DVM_TAILSCALE_AUTH_KEY", "tskey-", "token"),)


def test_config_error_attributes(tmp_path):
    vms = tmp_path / "config" / "vms"
    vms.mkdir(parents=True)
    (vms / "app.toml").write_text('baseline = false\ncpus = 1\nports = ["3000:3000", "3001:70000"]\n')
    client = dvm.Client(config_dir=tmp_path / "config", state_dir=tmp_path / "state",
                        environment={"PATH": "/usr/bin:/bin"})
    for call in (lambda: client.config("app"), lambda: client.plan("app"), lambda: client.sync("app")):
        with pytest.raises(dvm.ConfigError) as info:
            call()
        e = info.value
        assert e.code == "config" and e.exit_code == 2
        assert e.path == vms / "app.toml"
        assert e.line == 3
        assert e.column is not None and e.column > 1
        assert e.key == "ports[1]"
        assert "70000" in e.rule
        assert str(e).startswith(f"{vms / 'app.toml'}:3:{e.column}: ports[1]: ")


def test_validate_returns_every_problem_at_once(tmp_path):
    config = tmp_path / "config"
    (config / "vms").mkdir(parents=True)
    (config / "vms" / "app.toml").write_text('cpus = 0\nmemroy = "2GiB"\nports = ["80:8080"]\n')
    (config / "vms" / "Bad_Name.toml").write_text("")
    (config / "config.toml").write_text('[defaults]\narch = "arm64"\n')
    problems = dvm.validate(config, environment={"DVM_TIMEOUT": "soon"})
    assert all(isinstance(p, dvm.ConfigProblem) for p in problems)
    assert [(p.path.name if p.path else None, p.key, p.severity) for p in problems] == [
        ("config.toml", "defaults.arch", dvm.Severity.ERROR),
        ("Bad_Name.toml", "", dvm.Severity.WARNING),
        ("app.toml", "cpus", dvm.Severity.ERROR),
        ("app.toml", "memroy", dvm.Severity.ERROR),
        ("app.toml", "ports[0]", dvm.Severity.WARNING),
        (None, "DVM_TIMEOUT", dvm.Severity.WARNING),
    ]
    cpus = problems[2]
    assert cpus.path == config / "vms" / "app.toml" and (cpus.line, cpus.column) == (1, 8)
    assert cpus.vm == "app" and problems[0].vm == "" and problems[1].line is None
    assert str(cpus) == f"{config / 'vms' / 'app.toml'}:1:8: cpus: " + cpus.rule
    assert str(problems[-1]).startswith('DVM_TIMEOUT="soon" is not valid')
    assert cpus.severity == "error" and str(dvm.Severity.WARNING) == "warning"
    # The same first error as loading raises.
    client = dvm.Client(config_dir=config, state_dir=tmp_path / "state", environment={})
    with pytest.raises(dvm.ConfigError) as info:
        client.config("app")
    assert str(info.value) == str(problems[0])
    # The default config dir is the Client's ($DVM_CONFIG).
    env = {"DVM_CONFIG": str(config), "HOME": str(tmp_path)}
    assert dvm.validate(environment=env) == dvm.validate(config, environment={})
    assert dvm.validate(tmp_path / "nowhere", environment={}) == []


def test_unknown_key_is_a_config_error_with_position(tmp_path):
    vms = tmp_path / "config" / "vms"
    vms.mkdir(parents=True)
    (vms / "app.toml").write_text('baseline = false\n\ncpuz = 2\n')
    client = dvm.Client(config_dir=tmp_path / "config", state_dir=tmp_path / "state", environment={})
    with pytest.raises(dvm.ConfigError) as info:
        client.config("app")
    assert (info.value.line, info.value.column) == (3, 1)
    assert 'unknown key "cpuz"' in info.value.rule and '"cpus"' in info.value.rule


def test_missing_vm_is_not_found(nosandbox_env):
    client = nosandbox_env.client()
    with pytest.raises(dvm.NotFoundError) as info:
        client.status("ghost")
    assert info.value.code == "not_found" and info.value.exit_code == 2
    nosandbox_env.vm("idle", "baseline = false\n")
    with pytest.raises(dvm.NotFoundError) as info:
        client.stop("idle")  # configured, never created
    assert info.value.code == "not_created" and info.value.exit_code == 1


def test_io_errors_carry_the_os_error_number(nosandbox_env, tmp_path):
    """An io error says which system error it was (Error.errno), as the CLI's JSON does."""
    import errno
    import json
    import pickle
    env = nosandbox_env
    env.vm("app", "baseline = false\n")
    (tmp_path / "a-file").write_text("")
    client = dvm.Client(config_dir=env.config, limactl=env.sim.limactl, state_dir=tmp_path / "a-file" / "state",
                        environment=env.environment())
    with pytest.raises(dvm.Error) as info:
        client.sync("app")
    assert info.value.code == "io" and info.value.errno == errno.ENOTDIR
    assert pickle.loads(pickle.dumps(info.value)).errno == errno.ENOTDIR
    with pytest.raises(dvm.NotFoundError) as other:
        env.client().status("ghost")
    assert other.value.errno is None
    dvm_binary = os.environ.get("DVM_BINARY") or os.path.join(SOURCE, "build", "test", "dvm")
    r = subprocess.run([dvm_binary, "sync", "app", "--json"], capture_output=True, text=True, timeout=60,
                       env=env.environment(DVM_STATE=str(tmp_path / "a-file" / "state")), cwd=str(tmp_path))
    assert r.returncode == 1
    error = json.loads(r.stdout.splitlines()[-1])["error"]
    assert (error["code"], error["errno"]) == ("io", errno.ENOTDIR)


def test_limactl_missing_is_a_lima_error(tmp_path):
    client = dvm.Client(config_dir=tmp_path / "c", state_dir=tmp_path / "s",
                        limactl=tmp_path / "no-such-limactl", environment={"PATH": "/usr/bin:/bin"})
    with pytest.raises(dvm.LimaError) as info:
        client.list()
    assert info.value.code == "lima_missing" and info.value.exit_code == 3
    v = client.versions()
    assert v.dvm == dvm.__version__ and v.limactl == "" and v.limactl_problem and not v.limactl_ok


def test_failed_limactl_call_carries_subcommand_and_status(nosandbox_env):
    nosandbox_env.sim.add_fault(subcommand="list", action="fail", exit_code=7, message="disk on fire")
    with pytest.raises(dvm.LimaError) as info:
        nosandbox_env.client().list()
    e = info.value
    assert e.code == "lima_failed" and e.subcommand == "list" and e.exit_status == 7
    assert "disk on fire" in e.stderr_tail


def test_versions_and_empty_list(nosandbox_env):
    client = nosandbox_env.client()
    v = client.versions()
    assert v.dvm == dvm.__version__ and v.limactl and v.limactl_ok
    assert client.list() == []


def test_environment_defaults_to_os_environ_at_call_time(nosandbox_env, monkeypatch):
    for k, v in nosandbox_env.environment().items():
        monkeypatch.setenv(k, v)
    nosandbox_env.vm("later", "baseline = false\n")
    client = dvm.Client()  # everything from the environment
    assert client.config_dir == nosandbox_env.config
    assert [s.name for s in client.list()] == ["later"]
    other = nosandbox_env.tmp / "other"
    (other / "vms").mkdir(parents=True)
    monkeypatch.setenv("DVM_CONFIG", str(other))
    assert client.list() == []


def test_bad_arguments_raise_before_anything_runs(nosandbox_env):
    client = nosandbox_env.client()
    with pytest.raises(TypeError):
        client.exec("app", "echo hi")
    with pytest.raises(TypeError):
        client.sync("app", secrets={"A": 5})
    with pytest.raises(ValueError):
        client.sync("app", secrets={"A": "\udc80"})  # a lone surrogate is not text
    with pytest.raises(ValueError):
        client.sync_all(jobs=0)
    with pytest.raises(ValueError):
        dvm.Client(timeouts=dvm.Timeouts(query=-1))
    assert nosandbox_env.sim.calls() == []


def test_events_of_a_query(nosandbox_env):
    events = []
    nosandbox_env.client(on_event=events.append).list()
    kinds = [e.kind for e in events]
    assert kinds == [dvm.EventKind.LIMACTL_STARTED, dvm.EventKind.LIMACTL_FINISHED] * 2
    assert events[0].argv == ("limactl", "--version") and events[0].kind == "limactl_started"
    assert events[3].name == "list" and events[3].duration >= 0


def test_timeouts_reach_limactl_calls(nosandbox_env):
    nosandbox_env.sim.add_fault(subcommand="list", action="hang")
    client = nosandbox_env.client(timeouts=dvm.Timeouts(query=0.5))
    with pytest.raises(dvm.LimaError) as info:
        client.list()
    assert info.value.code == "timeout" and info.value.subcommand == "list"
    assert nosandbox_env.sim.wait_no_processes(10) == []


def test_doctor_findings_are_data(nosandbox_env):
    nosandbox_env.vm("app", 'baseline = false\nports = ["0.0.0.0:8080:80"]\n')
    nosandbox_env.vm("broken", "cpus = 0\n")
    report = nosandbox_env.client().doctor()
    assert isinstance(report, dvm.DoctorReport) and all(isinstance(c, dvm.DoctorCheck) for c in report)
    assert any(c.name == "limactl" and c.status == "ok" for c in report)
    assert any(c.vm == "broken" and c.status == "problem" for c in report.problems)
    assert any(c.vm == "app" and c.name == "ports" and "reachable from other machines" in c.message
               for c in report)
    assert not report.ok
    only_app = nosandbox_env.client().doctor("app")
    assert {c.vm for c in only_app} <= {"", "app"}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
