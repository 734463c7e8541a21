"""Attacks on `dvm rm`'s unsaved-work check (issue 10, SECURITY.md): the agent user (`dvm-agent`)
can write the whole code dir, every repository's `.git` included, so what it puts there must
neither run (as the main user or at all) when the check looks at it, nor hide unsaved work. Every
test sets the attack up in the simulator's guest sandbox (as the agent where the agent could do
it), runs `dvm rm app --yes` like a user would, and checks that the VM is still there, the
refusal names the reason, and, for the code-running attacks, that nothing ran.

One VM with the agent-user recipe is shared by the module; each test starts from an empty code
dir and an empty marker directory."""

import json

import pytest

from conftest import shared_env

AGENT = "dvm-agent"
MARKS = "/tmp/rm-attack"
# A program the attacks name as fsmonitor hook, filter, hook or diff driver: it records who ran
# it (and as what) in MARKS, then behaves like `cat` so a filter would still "work".
EVIL = f"""#!/bin/sh
touch "{MARKS}/ran-as-$(id -un)-$(basename "$0")"
cat
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with shared_env(tmp_path_factory, "attackrm", {"app": 'baseline = false\nrecipes = ["agent-user"]\n'},
                    sync=["app"]) as e:
        e.home_dir = e.guest("app", 'printf %s "$HOME"')
        e.code = e.home_dir + "/code/app"
        yield e


@pytest.fixture
def app(shared):
    """The shared VM with an empty code dir (its ACLs kept) and an empty marker directory."""
    shared.guest("app", f'''
set -e
find {shared.code} -mindepth 1 -delete
rm -rf {shared.home_dir}/remotes {shared.home_dir}/elsewhere {MARKS}
mkdir -m 1777 {MARKS}
for tool in evil fsmonitor clean process hook diff textconv; do
  printf '%s' '{EVIL}' >{MARKS}/$tool; chmod 755 {MARKS}/$tool
done
''', user="root")
    shared.sim.clear_calls()
    return shared


def agent(env, script):
    """Runs a script as the agent user, in the code dir, with a Git identity of its own."""
    return env.guest("app", f'set -euo pipefail\ncd {env.code}\n'
                            'export GIT_AUTHOR_NAME=agent GIT_AUTHOR_EMAIL=a@example.invalid '
                            'GIT_COMMITTER_NAME=agent GIT_COMMITTER_EMAIL=a@example.invalid\n' + script,
                     user=AGENT)


def main_user(env, script):
    return env.guest("app", f'set -euo pipefail\ncd {env.code}\n'
                            'export GIT_AUTHOR_NAME=me GIT_AUTHOR_EMAIL=me@example.invalid '
                            'GIT_COMMITTER_NAME=me GIT_COMMITTER_EMAIL=me@example.invalid\n' + script)


def refused(env):
    """`dvm rm app --yes --json` refuses and leaves the VM alone; returns the error object."""
    r = env.run("--json", "rm", "app", "--yes")
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "refused" and err["exit_code"] == 1
    assert err["message"].startswith("refusing to delete dvm-app: ")
    assert "delete" not in env.subcommands() and "stop" not in env.subcommands()
    assert env.sim.status("dvm-app") == "Running"
    return err


def reasons(err):
    return {r["path"]: r["reasons"] for r in err["unsaved_work"]["repositories"]}


def problems(err):
    return [(p["kind"], p["path"]) for p in err["unsaved_work"]["problems"]]


def marks(env):
    return env.guest("app", f"ls -A {MARKS} | grep '^ran-' || true", user="root").split()


# --- item 5: the check runs no repository code -------------------------------------------------


def test_an_fsmonitor_hook_of_an_agent_repository_does_not_run(app):
    agent(app, f'''
git init -q proj && cd proj && printf 'a\\n' >a && git add a && git commit -qm one
git config core.fsmonitor {MARKS}/fsmonitor
printf 'draft\\n' >draft
''')
    err = refused(app)
    assert reasons(err) == {"proj": ["untracked files", "commits not on any remote branch"]}
    assert marks(app) == []


def test_a_clean_filter_and_a_process_filter_do_not_run(app):
    # Filters on every path, one defined in .git/config and one in a file it includes; a
    # tracked file changed with its index entry made stale, so git would have to compare
    # contents through the filter.
    agent(app, f'''
git init -q proj && cd proj
printf '* filter=one\\n*.txt filter=two\\n' >.gitattributes
printf 'a\\n' >a && printf 't\\n' >t.txt && git add -A && git commit -qm one
git config filter.one.clean {MARKS}/clean
git config filter.one.required true
printf '[filter "two"]\\n\\tprocess = {MARKS}/process\\n\\tclean = {MARKS}/clean\\n' >.git/extra.cfg
git config include.path extra.cfg
printf 'b\\n' >>a && printf 'u\\n' >>t.txt && touch -d '2001-01-01' a t.txt .gitattributes
''')
    err = refused(app)
    assert reasons(err) == {"proj": ["unstaged changes", "commits not on any remote branch"]}
    assert marks(app) == []


def test_hooks_an_external_diff_and_textconv_do_not_run(app):
    # 0.txt is only touched (same content): a `git diff` refreshes the index and writes it,
    # which runs the post-index-change hook.
    agent(app, f'''
git init -q proj && cd proj && printf '0\\n' >0.txt && printf 'a\\n' >a && git add -A && git commit -qm one
mkdir -p .git/evil-hooks && for h in post-index-change pre-commit reference-transaction; do
  ln -sf {MARKS}/hook ".git/evil-hooks/$h"; done
git config core.hooksPath "$PWD/.git/evil-hooks"
git config diff.external {MARKS}/diff
git config diff.x.textconv {MARKS}/textconv && git config diff.x.command {MARKS}/diff
git config core.pager {MARKS}/evil && git config core.sshCommand {MARKS}/evil
printf '* diff=x\\n' >.git/info/attributes
printf 'b\\n' >>a && touch -d '2001-01-01' a 0.txt
''')
    err = refused(app)
    assert reasons(err) == {"proj": ["unstaged changes", "commits not on any remote branch"]}
    assert marks(app) == []


def test_a_main_user_repository_is_checked_as_the_agent_and_runs_nothing(app):
    # The main user's own repository: the agent can write its .git/config through the code
    # dir's ACLs, so it is checked as the agent, with the same switches.
    main_user(app, 'git init -q mine && cd mine && printf "a\\n" >a && git add a && git commit -qm one')
    agent(app, f'cd mine && git config -f .git/config core.fsmonitor {MARKS}/fsmonitor && printf "x\\n" >>a')
    err = refused(app)
    assert reasons(err) == {"mine": ["unstaged changes", "commits not on any remote branch"]}
    assert marks(app) == []


# --- item 6: the check fails closed ------------------------------------------------------------


def test_a_private_directory_of_the_agent_is_refused(app):
    agent(app, 'mkdir hidden && printf "work\\n" >hidden/notes.txt && chmod 700 hidden')
    err = refused(app)
    assert problems(err) == [("unreadable_directory", "hidden")]
    assert "owner dvm-agent, mode 700" in err["message"]


def test_a_listable_but_closed_directory_is_refused(app):
    agent(app, 'mkdir -p a/b && printf "work\\n" >a/b/notes.txt && chmod 711 a/b')
    assert problems(refused(app)) == [("unreadable_directory", "a/b")]


def test_a_git_symlink_does_not_hide_a_directory(app):
    # A clean, pushed repository elsewhere, and a .git symlink to it next to unsaved files.
    main_user(app, '''
git init -q --bare "$HOME/remotes/r.git" && git clone -q "$HOME/remotes/r.git" "$HOME/elsewhere" 2>/dev/null
cd "$HOME/elsewhere" && printf 'a\\n' >a && git add a && git commit -qm one && git push -q origin HEAD 2>/dev/null
''')
    agent(app, f'mkdir work && printf "unsaved\\n" >work/a && ln -s {app.home_dir}/elsewhere/.git work/.git')
    err = refused(app)
    assert ("git_symlink", "work/.git") in problems(err)


def test_a_code_dir_that_is_a_symlink_is_refused(app):
    main_user(app, f'mkdir -p "$HOME/elsewhere" && printf "work\\n" >"$HOME/elsewhere/notes.txt" && '
                   f'mv {app.code} {app.code}.real && ln -s "$HOME/elsewhere" {app.code}')
    try:
        err = refused(app)
        assert problems(err) == [("code_dir_symlink", ".")]
        assert "symbolic link" in err["message"]
    finally:
        app.guest("app", f'rm {app.code} && mv {app.code}.real {app.code}')


@pytest.mark.needs_simulator("root commands that bypass the guest user's login profile, which this test breaks")
def test_a_check_that_never_ran_is_not_a_verdict(app):
    # `exit 0` in the main user's login profile: `limactl shell ... bash -s` exits 0 without
    # running a line of the check. Only the check's nonce line counts as a verdict.
    app.sim.guest_run("dvm-app", f'cp -a {app.home_dir}/.bash_profile /tmp/profile.saved 2>/dev/null; '
                                 f'printf "exit 0\\n" >{app.home_dir}/.bash_profile', user="root", check=True)
    try:
        main_user_files = "printf draft >notes.txt"
        app.sim.guest_run("dvm-app", f"cd {app.code} && {main_user_files}", user="root", check=True)
        err = refused(app)
        assert err["unsaved_work"]["incomplete"] is True
        assert "did not run to its end" in err["unsaved_work"]["incomplete_reason"]
        assert "the unsaved-work check is incomplete" in err["message"]
    finally:
        app.sim.guest_run("dvm-app", f'rm -f {app.home_dir}/.bash_profile; '
                                     f'[ ! -e /tmp/profile.saved ] || mv /tmp/profile.saved {app.home_dir}/.bash_profile',
                          user="root", check=True)


@pytest.mark.parametrize("how", ["missing", "dangling"])
def test_a_missing_vm_file_still_checks_the_recorded_code_dir(app, how):
    main_user(app, 'printf "draft\\n" >notes.txt')
    vm_file = app.config / "vms" / "app.toml"
    saved = vm_file.read_text()
    vm_file.unlink()
    if how == "dangling":
        vm_file.symlink_to(app.config / "vms" / "gone.toml")
    try:
        err = refused(app)
        assert err["unsaved_work"]["loose_files"] == ["notes.txt"]
        assert "unsaved work under ~/code/app" in err["message"]
    finally:
        vm_file.unlink(missing_ok=True)
        vm_file.write_text(saved)


def test_commits_only_on_jj_and_other_refs(app):
    main_user(app, '''
git init -q --bare "$HOME/remotes/p.git" && git clone -q "$HOME/remotes/p.git" proj 2>/dev/null
cd proj && printf 'a\\n' >a && git add a && git commit -qm one && git push -q origin HEAD 2>/dev/null
git update-ref refs/jj/keep/0123 "$(git commit-tree -p HEAD -m 'jj change' HEAD^{tree})"
git notes add -m note HEAD
''')
    err = refused(app)
    (reason,) = reasons(err)["proj"]
    assert reason.startswith("commits only on refs no remote branch contains (")
    assert "refs/jj/keep/0123" in reason and "refs/notes/commits" in reason


def test_a_worktree_outside_the_code_dir(app):
    main_user(app, '''
git init -q --bare "$HOME/remotes/p.git" && git clone -q "$HOME/remotes/p.git" proj 2>/dev/null
cd proj && printf 'a\\n' >a && git add a && git commit -qm one && git push -q origin HEAD 2>/dev/null
git worktree add -q "$HOME/elsewhere/wt" HEAD 2>/dev/null && printf 'change\\n' >>"$HOME/elsewhere/wt/a"
''')
    err = refused(app)
    assert reasons(err) == {"proj": [f"a worktree outside the code dir ({app.home_dir}/elsewhere/wt)"]}


def test_a_changed_code_dir_still_checks_the_one_the_instance_was_created_with(app):
    main_user(app, 'printf "draft\\n" >notes.txt')
    saved = (app.config / "vms" / "app.toml").read_text()
    app.vm("app", saved + 'code_dir = "~/code/renamed"\n')
    try:
        err = refused(app)
        assert err["unsaved_work"]["loose_files"] == ["~/code/app/notes.txt"]
        assert "1 file outside any repository: ~/code/app/notes.txt" in err["message"]
    finally:
        app.vm("app", saved)
