"""`dvm cp` host paths are the caller's paths (issue 12): relative host operands resolve against
the caller's working directory, in both directions, as with scp, `limactl copy` and `multipass
transfer`; a copy into a guest directory that does not exist yet creates it; a missing host
source or host target directory is a host error (exit 2) before any limactl copy; dvm's scratch
directory (limactl's working directory) is never a copy source or target.

One VM for the module; every test runs dvm from its own working directory, never the state dir."""

import json
import subprocess

import pytest

from conftest import DVM, shared_env


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with shared_env(tmp_path_factory, "cppaths", {"app": "baseline = false\nrecipes = []\n"}, sync=["app"]) as e:
        e.code = e.guest("app", 'printf %s "$HOME/code/app"')
        yield e


@pytest.fixture
def app(shared, tmp_path):
    shared.guest("app", f"find {shared.code} -mindepth 1 -delete")
    shared.sim.clear_calls()
    shared.cwd = tmp_path / "work"
    shared.cwd.mkdir()
    return shared


def dvm_in(env, *args):
    """dvm run from env.cwd, as a user in their project directory would."""
    return subprocess.run([DVM, *args], env=env.environ(), cwd=str(env.cwd), capture_output=True,
                          text=True, timeout=120)


def copies(env):
    return [c for c in env.sim.calls() if c["subcommand"] == "copy"]


def scratch_entries(env):
    scratch = env.state / "scratch"
    return sorted(p.name for p in scratch.iterdir()) if scratch.exists() else []


def test_a_relative_file_goes_into_a_guest_directory_that_does_not_exist_yet(app):
    (app.cwd / "notes.md").write_text("my notes\n")
    r = dvm_in(app, "cp", "notes.md", "app:docs/")
    assert r.returncode == 0, r.stderr
    assert app.guest("app", f"cat {app.code}/docs/notes.md") == "my notes\n"
    # And a nested one, without a trailing slash on a new directory's file name.
    r = dvm_in(app, "cp", "notes.md", "app:a/b/renamed.md")
    assert r.returncode == 0, r.stderr
    assert app.guest("app", f"cat {app.code}/a/b/renamed.md") == "my notes\n"


def test_a_relative_directory_goes_in_and_comes_back_out_relative(app):
    (app.cwd / "src" / "pkg").mkdir(parents=True)
    (app.cwd / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    r = dvm_in(app, "cp", "-r", "src", "app:")
    assert r.returncode == 0, r.stderr
    assert app.guest("app", f"cat {app.code}/src/pkg/mod.py") == "x = 1\n"

    (app.cwd / "back").mkdir()
    r = dvm_in(app, "cp", "-r", "app:src", "back/")
    assert r.returncode == 0, r.stderr
    assert (app.cwd / "back" / "src" / "pkg" / "mod.py").read_text() == "x = 1\n"
    r = dvm_in(app, "cp", "app:src/pkg/mod.py", "./copy.py")
    assert r.returncode == 0, r.stderr
    assert (app.cwd / "copy.py").read_text() == "x = 1\n"
    assert not {"src", "copy.py"} & set(scratch_entries(app))


def test_a_missing_host_source_is_a_usage_error_before_any_copy(app):
    r = dvm_in(app, "--json", "cp", "missing.md", "app:docs/")
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "usage"
    assert "missing.md" in err["message"] and str(app.cwd) in err["message"]
    assert copies(app) == []
    assert app.guest("app", f"ls -A {app.code}") == ""


def test_a_directory_without_r_is_a_usage_error(app):
    (app.cwd / "dir").mkdir()
    r = dvm_in(app, "cp", "dir", "app:")
    assert r.returncode == 2
    assert "-r" in r.stderr and "dir" in r.stderr
    assert copies(app) == []


def test_a_copy_out_into_a_missing_host_directory_is_a_usage_error(app):
    app.guest("app", f"echo hi >{app.code}/f.txt")
    r = dvm_in(app, "cp", "app:f.txt", "nowhere/f.txt")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "nowhere" in r.stderr
    assert copies(app) == []
    assert not (app.cwd / "nowhere").exists()


def test_the_scratch_directory_is_never_a_copy_source_or_target(app):
    scratch = app.state / "scratch"
    scratch.mkdir(exist_ok=True)
    (scratch / "planted.txt").write_text("not yours\n")
    app.cwd = scratch
    r = dvm_in(app, "cp", "planted.txt", "app:")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "scratch" in r.stderr
    app.guest("app", f"echo hi >{app.code}/f.txt")
    r = dvm_in(app, "cp", "app:f.txt", ".")
    assert r.returncode == 2
    assert not (scratch / "f.txt").exists()
    assert copies(app) == []
