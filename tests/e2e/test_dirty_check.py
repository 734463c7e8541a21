"""`dvm rm NAME --yes [--force]` and its unsaved-work check (product spec §10), for real: the Git
repositories and files are made in the simulator's guest sandbox with the guest's own git, and
`dvm rm` runs the check there.

Most refusals share one VM (`app`): each test starts from an empty code dir, makes one kind of
unsaved work and expects `rm` to refuse, naming the repository and the reason, and to leave the
VM alone. Deletions use VMs of their own."""

import json
import subprocess

import pytest

from conftest import DVM, require_sandbox, shared_env

# Runs in the guest as the guest user before each scenario: an empty code dir, a Git identity,
# and `pushed PATH`, which makes a repository under the code dir with one commit pushed to a
# bare remote outside it (~/remotes).
PRELUDE = r"""
set -euo pipefail
code="$HOME/code/app"
git config --global user.email tester@example.invalid
git config --global user.name Tester
git config --global init.defaultBranch main
git config --global advice.detachedHead false
pushed() {
  local path="$code/$1" remote="$HOME/remotes/${1//\//_}.git"
  mkdir -p "$HOME/remotes"
  git init -q --bare "$remote"
  git clone -q "$remote" "$path" 2>/dev/null
  cd "$path"
  printf 'hello\n' >README
  git add README
  git commit -qm init
  git push -q origin HEAD 2>/dev/null
}
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with shared_env(tmp_path_factory, "dirty", {"app": "baseline = false\n"}, sync=["app"]) as e:
        yield e


@pytest.fixture
def app(shared):
    """The shared VM with an empty code dir (and no remotes)."""
    shared.guest("app", 'rm -rf "$HOME/code/app" "$HOME/remotes" && mkdir -p "$HOME/code/app"')
    shared.sim.clear_calls()
    return shared


def in_guest(env, script, vm="app"):
    return env.guest(vm, PRELUDE + script)


def refused(env, vm="app"):
    """`dvm rm VM --yes` refuses: exit 1, nothing stopped or deleted. Returns the message lines."""
    r = env.run("rm", vm, "--yes")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"dvm: error: refusing to delete dvm-{vm}: "), r.stderr
    assert r.stdout == ""
    subs = env.subcommands()
    assert "stop" not in subs and "delete" not in subs, subs
    assert env.sim.status(f"dvm-{vm}") == "Running"
    return r.stderr.splitlines()


def dirty_lines(lines):
    """The per-repository and loose-file lines of a refusal."""
    return [line.strip() for line in lines if line.startswith("  ")]


def test_unstaged_changes(app):
    in_guest(app, 'pushed proj && printf "more\\n" >>README')
    lines = refused(app)
    assert lines[0] == "dvm: error: refusing to delete dvm-app: unsaved work under ~/code/app:"
    assert dirty_lines(lines) == ["repository proj: unstaged changes"]
    assert "--force" in lines[-1]
    # The check is one guest script over stdin: nothing of it is in the argv.
    shell = app.sim.calls("shell")
    assert len(shell) == 1 and shell[0]["argv"] == ["shell", "--workdir", "/", "dvm-app", "/bin/bash", "-p", "-s"]


def test_staged_changes(app):
    in_guest(app, 'pushed proj && printf "new\\n" >new.txt && git add new.txt')
    assert dirty_lines(refused(app)) == ["repository proj: staged changes"]


def test_untracked_files_but_not_ignored_ones(app):
    in_guest(app, 'pushed proj && printf "x\\n" >scratch.txt')
    assert dirty_lines(refused(app)) == ["repository proj: untracked files"]


def test_a_stash(app):
    in_guest(app, 'pushed proj && printf "wip\\n" >>README && git stash -q && git status --porcelain | wc -l')
    assert app.guest("app", 'git -C "$HOME/code/app/proj" status --porcelain') == ""
    lines = refused(app)
    assert dirty_lines(lines) == ["repository proj: stash"]


def test_a_commit_on_no_remote_branch(app):
    in_guest(app, 'pushed proj && printf "local\\n" >>README && git commit -qam "not pushed"')
    assert dirty_lines(refused(app)) == ["repository proj: commits not on any remote branch"]


def test_a_local_branch_that_was_never_pushed(app):
    in_guest(app, 'pushed proj && git switch -q -c feature && printf "f\\n" >f && git add f && '
                  'git commit -qm feature && git switch -q main')
    assert dirty_lines(refused(app)) == ["repository proj: commits not on any remote branch"]


def test_a_repository_without_any_remote(app):
    in_guest(app, 'mkdir -p "$code/solo" && cd "$code/solo" && git init -q && printf x >x && git add x && '
                  'git commit -qm one')
    assert dirty_lines(refused(app)) == ["repository solo: commits not on any remote branch"]


def test_every_reason_of_one_repository_is_listed(app):
    in_guest(app, 'pushed proj && printf "s\\n" >>README && git stash -q && git commit -q --allow-empty -m local && '
                  'printf "u\\n" >>README && printf "n\\n" >staged && git add staged && printf "t\\n" >untracked')
    assert dirty_lines(refused(app)) == [
        "repository proj: unstaged changes, staged changes, untracked files, stash, commits not on any remote branch"]


def test_a_loose_file_outside_any_repository(app):
    in_guest(app, 'pushed proj && printf "notes\\n" >"$code/notes.txt"')
    assert dirty_lines(refused(app)) == ["1 file outside any repository: notes.txt"]


def test_a_hidden_loose_file(app):
    in_guest(app, 'printf "API_KEY=x\\n" >"$code/.env"')
    assert dirty_lines(refused(app)) == ["1 file outside any repository: .env"]


def test_the_code_dir_itself_as_a_repository(app):
    in_guest(app, 'git init -q "$code" && cd "$code" && printf x >x && git add x')
    assert dirty_lines(refused(app)) == ["repository .: staged changes"]


def test_a_code_dir_with_a_space_in_its_path(app):
    app.vm("app", 'baseline = false\ncode_dir = "~/my work/app"\n')
    try:
        app.guest("app", 'mkdir -p "$HOME/my work/app/sub dir" && printf x >"$HOME/my work/app/sub dir/it\'s here.txt"')
        lines = refused(app)
        assert lines[0] == "dvm: error: refusing to delete dvm-app: unsaved work under ~/my work/app:"
        assert dirty_lines(lines) == ["1 file outside any repository: sub dir/it's here.txt"]
    finally:
        app.vm("app", "baseline = false\n")
        app.guest("app", 'rm -rf "$HOME/my work"')


def test_many_loose_files_show_five_samples(app):
    in_guest(app, 'mkdir -p "$code/docs" && for i in 1 2 3 4 5 6 7; do printf x >"$code/docs/f$i"; done')
    (line,) = dirty_lines(refused(app))
    head, samples = line.split(": ", 1)
    assert head == "7 files outside any repository"
    names = samples.split(" ")
    assert names[-1] == "..."
    assert len(names[:-1]) == 5 and set(names[:-1]) <= {f"docs/f{i}" for i in range(1, 8)}


def test_nested_repositories_at_depth(app):
    # A clean outer repository that ignores vendor/, a dirty repository inside it, one four
    # levels down, and one whose name has a space.
    in_guest(app, r'''
pushed outer && printf 'vendor/\n' >.gitignore && git add .gitignore && git commit -qm ignore && git push -q 2>/dev/null
pushed outer/vendor/lib && printf "x\n" >>README && git add README
pushed a/b/c/deep && printf "t\n" >untracked
pushed "with space" && git commit -q --allow-empty -m local
''')
    assert sorted(dirty_lines(refused(app))) == [
        "repository a/b/c/deep: untracked files",
        "repository outer/vendor/lib: staged changes",
        "repository with space: commits not on any remote branch",
    ]


def test_a_worktree_with_a_git_file(app):
    in_guest(app, 'pushed proj && git worktree add -q "$code/wt" -b feature && git push -q origin feature 2>/dev/null && '
                  'printf "change\\n" >>"$code/wt/README"')
    assert app.guest("app", 'test -f "$HOME/code/app/wt/.git" && echo file') == "file\n"
    assert dirty_lines(refused(app)) == ["repository wt: unstaged changes"]


def test_git_missing_in_the_guest_refuses_unless_forced(app):
    # Git is hidden for real: the guest's /usr is an overlay over the host's read-only /usr
    # (the simulator's boot step), so renaming /usr/bin/git as guest root only writes a
    # whiteout into this VM's own upper layer; the host's git is untouched. The check then
    # finds no git on the guest user's PATH.
    mounts = app.guest("app", "awk '$2 == \"/usr\" { print $3 }' /proc/mounts")
    if "overlay" not in mounts.split():
        pytest.skip("the simulated guest has no writable /usr overlay here, so git cannot be hidden")
    in_guest(app, 'pushed proj')  # clean work: only the missing git makes the check refuse
    app.guest("app", "mv /usr/bin/git /usr/bin/git.hidden-by-test", user="root")
    try:
        assert app.guest("app", "command -v git || echo none") == "none\n"
        app.sim.clear_calls()
        r = app.run("rm", "app", "--yes")
        assert r.returncode == 1
        assert "refusing to delete dvm-app: the unsaved-work check is incomplete" in r.stderr
        assert "git is not installed in the guest" in r.stderr
        assert "--force" in r.stderr
        assert "delete" not in app.subcommands()
        assert app.sim.status("dvm-app") == "Running"
    finally:
        app.guest("app", "mv /usr/bin/git.hidden-by-test /usr/bin/git", user="root")
    assert app.guest("app", "command -v git") == "/usr/bin/git\n"


def test_the_refusal_as_json(app):
    in_guest(app, 'pushed proj && printf "wip\\n" >>README && git stash -q')
    r = app.run("--json", "rm", "app", "--yes")
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "refused" and err["exit_code"] == 1
    assert "repository proj: stash" in err["message"]
    assert err["unsaved_work"]["repositories"] == [{"path": "proj", "reasons": ["stash"]}]
    assert err["unsaved_work"]["clean"] is False and err["unsaved_work"]["loose_file_count"] == 0


@pytest.mark.needs_simulator("fault injection (a limactl that fails, hangs or prints garbage)")
def test_a_clean_code_dir_is_not_refused_by_the_check(app):
    # Pushed work, ignored files and empty directories are not unsaved work. `rm` here would
    # delete the shared VM, so the check is observed through a deletion that fails on purpose.
    in_guest(app, r'''
pushed proj && printf 'node_modules/\n*.log\n' >.gitignore && git add .gitignore && git commit -qm ignore && git push -q 2>/dev/null
mkdir -p node_modules/pkg && printf x >node_modules/pkg/index.js && printf x >debug.log
mkdir -p "$code/empty/dirs"
''')
    app.sim.add_fault(action="fail", subcommand="delete", instance="dvm-app", times=1,
                      message="delete refused by the test")
    r = app.run("rm", "app", "--yes")
    assert r.returncode == 1
    assert "delete refused by the test" in r.stderr
    assert "refusing" not in r.stderr
    assert app.subcommands()[-1] == "delete"
    app.sim.start("dvm-app")  # rm stopped it before deleting


# --- deletions -----------------------------------------------------------------------------


@pytest.fixture
def pair(dvm):
    """Two synced VMs of a fresh installation: `keep` and `gone`."""
    require_sandbox()
    for n in ("keep", "gone"):
        dvm.vm(n, "baseline = false\n")
    procs = [subprocess.Popen([DVM, "sync", n], env=dvm.environ(), cwd=str(dvm.tmp), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in ("keep", "gone")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    dvm.sim.clear_calls()
    return dvm


def test_a_clean_tree_is_deleted_and_the_config_kept(pair):
    pair.guest("gone", PRELUDE.replace("code/app", "code/gone") + r'''
pushed proj && printf '*.log\n' >.gitignore && git add .gitignore && git commit -qm ignore && git push -q 2>/dev/null
printf x >build.log
''')
    r = pair.ok("rm", "gone", "--yes")
    assert r.stdout == "dvm: deleted dvm-gone (vms/gone.toml is kept)\n"
    assert "deleting dvm-gone" in r.stderr
    subs = pair.subcommands()
    assert subs.count("shell") == 1 and subs[-2:] == ["stop", "delete"]
    assert pair.sim.calls("delete")[0]["argv"] == ["delete", "dvm-gone"]
    assert pair.sim.status("dvm-gone") is None
    assert (pair.config / "vms" / "gone.toml").exists()
    assert [(v["name"], v["state"]) for v in pair.json("ls")] == [("gone", "absent"), ("keep", "Running")]


def test_force_deletes_dirty_work_without_checking(pair):
    pair.guest("gone", 'mkdir -p "$HOME/code/gone" && printf x >"$HOME/code/gone/unsaved.txt"')
    r = pair.run("rm", "gone", "--yes")
    assert r.returncode == 1 and "unsaved.txt" in r.stderr
    pair.sim.clear_calls()
    r = pair.json("rm", "gone", "--yes", "--force")
    assert r == {"schema": 2, "vm": "gone", "removed": True, "checked": False, "warnings": []}
    assert pair.subcommands() == ["list", "list", "stop", "delete"]  # no guest check at all
    assert pair.sim.status("dvm-gone") is None
    assert pair.sim.status("dvm-keep") == "Running"


def test_a_stopped_vm_is_started_for_the_check(pair):
    pair.sim.stop("dvm-gone")
    r = pair.ok("rm", "dvm-gone", "--yes")
    assert "starting dvm-gone" in r.stderr
    subs = pair.subcommands()
    assert subs.index("start") < subs.index("shell") < subs.index("delete")
    assert pair.sim.status("dvm-gone") is None


def test_an_instance_without_config_or_recorded_code_dir_is_refused_unless_forced(dvm):
    # Not made by dvm: its lima.yaml records no code dir, so there is no telling where work is.
    require_sandbox()
    dvm.sim.create_instance("dvm-orphan", running=True)
    r = dvm.run("--json", "rm", "orphan", "--yes")
    assert r.returncode == 1, r.stderr
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "refused"
    assert [p["kind"] for p in err["unsaved_work"]["problems"]] == ["vm_file_missing"]
    assert "records no code dir" in err["message"] and "--force" in err["message"]
    assert "shell" not in dvm.subcommands() and "delete" not in dvm.subcommands()
    assert dvm.sim.status("dvm-orphan") == "Running"
    r = dvm.ok("rm", "orphan", "--yes", "--force")
    assert "dvm: warning: orphan: deleting dvm-orphan, which has no config file" in r.stderr
    assert "shell" not in dvm.subcommands()
    assert dvm.subcommands()[-1] == "delete"
    assert dvm.sim.status("dvm-orphan") is None


def test_rm_usage_errors_make_no_limactl_call(dvm):
    dvm.vm("app", "baseline = false\n")
    for args in (["rm", "app"], ["rm", "app", "--force"], ["rm", "--yes"], ["rm"], ["rm", "app", "--yes", "extra"],
                 ["rm", "Bad_Name", "--yes"], ["rm", "app", "--yes", "--nope"]):
        r = dvm.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("dvm: error: ")
    assert "--yes" in dvm.run("rm", "app").stderr
    assert dvm.sim.calls() == []


def test_rm_of_unknown_and_never_created_vms(dvm):
    dvm.sim.create_instance("other", running=False)
    for name in ("nope", "other"):
        r = dvm.run("rm", name, "--yes")
        assert r.returncode == 2, r.stderr
        assert f'no VM named "{name}"' in r.stderr
    dvm.vm("absent", "baseline = false\n")
    r = dvm.run("rm", "absent", "--yes")
    assert r.returncode == 1
    assert "does not exist" in r.stderr
    assert "delete" not in dvm.subcommands()
    assert dvm.sim.status("other") == "Stopped"
