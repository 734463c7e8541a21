"""Attacks on `dvm cp` into the guest (issue 10, SECURITY.md): the agent user (`dvm-agent`) can
write the whole code dir, so a symlink it puts there must not make `dvm cp` (which runs as the main
user) write into the main user's home, nor make the ACL refresh after the copy grant the agent
access to the main user's files. Each test sets the attack up as the agent, runs `dvm cp` like a
user would, and checks that the main user's home (files, modes, ACLs) is exactly as before.

One VM with the agent-user recipe is shared by the module; each test starts from an empty code
dir."""

import os

import pytest

from conftest import shared_env

AGENT = "dvm-agent"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with shared_env(tmp_path_factory, "attackcp", {"app": 'baseline = false\nrecipes = ["agent-user"]\n'},
                    sync=["app"]) as e:
        e.home_dir = e.guest("app", 'printf %s "$HOME"')
        e.code = e.home_dir + "/code/app"
        e.guest("app", 'mkdir -p -m 700 "$HOME/.ssh" && printf key >"$HOME/.ssh/id_ed25519" && '
                       'chmod 600 "$HOME/.ssh/id_ed25519" && printf "# mine\\n" >>"$HOME/.bashrc"')
        yield e


@pytest.fixture
def app(shared):
    shared.guest("app", f"find {shared.code} -mindepth 1 -delete", user="root")
    shared.sim.clear_calls()
    return shared


def agent(env, script):
    return env.guest("app", f"set -euo pipefail\ncd {env.code}\n{script}", user=AGENT)


def home_snapshot(env):
    """Every entry of the main user's home outside the code dir: path, type, mode, owner, size,
    content hash, and its ACL."""
    return env.guest("app", f'''
set -euo pipefail
cd {env.home_dir}
find . -path ./code -prune -o -printf '%p %y %m %u %s\\n' | LC_ALL=C sort
find . -path ./code -prune -o -type f -exec sha256sum {{}} + | LC_ALL=C sort
find . -path ./code -prune -o -print0 | LC_ALL=C sort -z | xargs -0 getfacl -P -p --
''', user="root")


def host_tree(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "planted.txt").write_text("from the host\n")
    (data / "sub" / "deep.txt").write_text("deep\n")
    (tmp_path / "notes.md").write_text("my notes\n")
    return data


def test_cp_r_into_a_link_to_the_main_home_writes_nothing_there(app, tmp_path):
    data = host_tree(tmp_path)
    agent(app, f"ln -s {app.home_dir} data")
    before = home_snapshot(app)
    r = app.run("cp", "-r", str(data), "app:")
    assert home_snapshot(app) == before
    assert r.returncode == 1, r.stderr
    assert f"refusing to copy into {app.code}/data: it is a symbolic link (to {app.home_dir})" in r.stderr
    # In particular: no new file in the home, and no agent access to .ssh.
    assert app.guest("app", 'test ! -e "$HOME/planted.txt" && test ! -e "$HOME/sub" && echo absent').strip() == "absent"
    acl = app.guest("app", 'getfacl -p "$HOME/.ssh" "$HOME/.ssh/id_ed25519"')
    assert {line.split(":")[-1] for line in acl.splitlines() if "user:dvm-agent:" in line} <= {"---"}, acl
    assert app.guest("app", "cat ~/.ssh/id_ed25519 2>&1 || echo denied", user=AGENT).strip().endswith("denied")
    # Nothing staged is left behind either.
    assert app.guest("app", 'ls -A "$HOME/code"').split() == ["app"]


def test_cp_a_file_onto_a_link_to_bashrc_leaves_bashrc_alone(app, tmp_path):
    host_tree(tmp_path)
    agent(app, f"ln -s {app.home_dir}/.bashrc notes.md")
    before = home_snapshot(app)
    r = app.run("cp", str(tmp_path / "notes.md"), "app:")
    assert home_snapshot(app) == before
    assert r.returncode == 1, r.stderr
    assert f"{app.code}/notes.md: it is a symbolic link (to {app.home_dir}/.bashrc)" in r.stderr
    assert "my notes" not in app.guest("app", 'cat "$HOME/.bashrc"')
    assert app.guest("app", f"echo x >>{app.home_dir}/.bashrc 2>/dev/null || echo denied", user=AGENT).strip() == "denied"


def test_cp_to_a_path_through_a_link_and_to_a_renamed_target_is_refused(app, tmp_path):
    host_tree(tmp_path)
    agent(app, f"mkdir -p real && ln -s {app.home_dir} real/inner && ln -s {app.home_dir}/.profile renamed.txt")
    before = home_snapshot(app)
    r = app.run("cp", str(tmp_path / "notes.md"), "app:real/inner/x.md")
    assert r.returncode == 1 and f"{app.code}/real/inner: it is a symbolic link" in r.stderr
    r = app.run("cp", str(tmp_path / "notes.md"), "app:renamed.txt")
    assert r.returncode == 1 and f"{app.code}/renamed.txt: it is a symbolic link" in r.stderr
    # A link deeper in the tree the copy merges into (an existing directory of the code dir).
    agent(app, f"mkdir -p data && ln -s {app.home_dir}/.ssh data/sub")
    r = app.run("cp", "-r", str(tmp_path / "data"), "app:")
    assert r.returncode == 1 and f"{app.code}/data/sub: it is a symbolic link (to {app.home_dir}/.ssh)" in r.stderr
    assert app.guest("app", f"test ! -e {app.code}/data/planted.txt && echo none").strip() == "none"
    assert home_snapshot(app) == before


def test_copy_from_above_the_code_dir_refuses_links_inside_it(app, tmp_path):
    (tmp_path / "code" / "app" / "data").mkdir(parents=True)
    (tmp_path / "code" / "app" / "data" / "f.txt").write_text("x\n")
    agent(app, f"ln -s {app.home_dir} data")
    before = home_snapshot(app)
    r = app.run("cp", "-r", str(tmp_path / "code"), "app:~")
    assert r.returncode == 1 and f"{app.code}/data: it is a symbolic link (to {app.home_dir})" in r.stderr
    assert home_snapshot(app) == before


def test_an_ordinary_copy_still_lands_with_the_agents_access(app, tmp_path):
    data = host_tree(tmp_path)
    app.ok("cp", "-r", str(data), str(tmp_path / "notes.md"), "app:")
    app.ok("cp", "-r", str(data), "app:data")  # an existing directory: the copy goes inside it
    app.ok("cp", str(tmp_path / "notes.md"), "app:data/renamed.md")
    out = app.guest("app", f"cd {app.code} && find . -mindepth 1 -printf '%p %y %u\\n' | LC_ALL=C sort")
    assert out.splitlines() == [
        "./data d developer", "./data/data d developer", "./data/data/planted.txt f developer",
        "./data/data/sub d developer", "./data/data/sub/deep.txt f developer",
        "./data/planted.txt f developer", "./data/renamed.md f developer", "./data/sub d developer",
        "./data/sub/deep.txt f developer", "./notes.md f developer"]
    assert agent(app, "cat data/sub/deep.txt notes.md data/renamed.md") == "deep\nmy notes\nmy notes\n"
    acl = app.guest("app", f"getfacl -p {app.code}/data/sub")
    assert "user:dvm-agent:rwx" in acl and "default:user:dvm-agent:rwx" in acl
    assert app.guest("app", 'ls -A "$HOME/code"').split() == ["app"]
    assert [c["subcommand"] for c in app.sim.calls()][-3:] == ["shell", "copy", "shell"]


def host_files_containing(root, needle):
    found = []
    for base, _dirs, files in os.walk(root):
        for n in files:
            p = os.path.join(base, n)
            with open(p, "rb") as f:
                if needle in f.read():
                    found.append(p)
    return found


def test_cp_out_of_the_guest_does_not_follow_the_agents_links_to_the_main_users_files(app, tmp_path):
    agent(app, f"ln -s {app.home_dir}/.ssh/id_ed25519 key.txt && mkdir proj && printf ok >proj/readme && "
               f"ln -s {app.home_dir}/.ssh proj/ssh")
    out = tmp_path / "out"
    out.mkdir()
    r = app.run("cp", "app:key.txt", str(out / "key.txt"))
    assert host_files_containing(out, b"key") == []
    assert r.returncode == 1 and f"refusing to copy from {app.code}/key.txt: it is a symbolic link" in r.stderr
    r = app.run("cp", "-r", "app:proj", str(out / "proj"))
    assert host_files_containing(out, b"key") == []
    assert r.returncode == 1 and f"refusing to copy from {app.code}/proj/ssh: it is a symbolic link (to {app.home_dir}/.ssh)" in r.stderr
    # Without the link the same copy works.
    agent(app, "rm proj/ssh")
    app.ok("cp", "-r", "app:proj", str(out / "proj"))
    assert (out / "proj" / "readme").read_text() == "ok"


def test_a_directory_swapped_for_a_link_during_the_copy_is_never_written_through(app, tmp_path):
    data = host_tree(tmp_path)
    before = home_snapshot(app)
    # The agent flips `data` between a real directory and a link to the main home, as fast as
    # it can, while the user copies into it again and again.
    agent(app, f"""
cd {app.code}
setsid /usr/bin/timeout 40 /bin/bash -c '
while :; do
  rm -rf data; mkdir -p data/sub; rm -rf data; ln -s {app.home_dir} data
done' </dev/null >/dev/null 2>&1 &
""")
    try:
        outcomes = set()
        for _ in range(12):
            r = app.run("cp", "-r", str(data), "app:")
            outcomes.add(r.returncode)
            assert "Traceback" not in r.stderr
    finally:
        app.guest("app", "pkill -u dvm-agent -f 'rm -rf data' || true", user="root")
    assert home_snapshot(app) == before
    assert app.guest("app", f"test ! -e {app.home_dir}/planted.txt && test ! -e {app.home_dir}/sub && echo absent").strip() == "absent"


def test_new_directories_raced_with_a_link_are_never_written_through(app, tmp_path):
    """`dvm cp notes.md app:docs/new/` creates docs/new (issue 12). The agent races it: `docs`
    appears as a link to the main home between the check and the move into place."""
    host_tree(tmp_path)
    before = home_snapshot(app)
    agent(app, f"""
cd {app.code}
setsid /usr/bin/timeout 40 /bin/bash -c '
while :; do
  ln -sfn {app.home_dir} docs; rm -f docs
done' </dev/null >/dev/null 2>&1 &
""")
    try:
        for _ in range(10):
            r = app.run("cp", str(tmp_path / "notes.md"), "app:docs/new/")
            assert "Traceback" not in r.stderr
            assert r.returncode in (0, 1), r.stderr
    finally:
        app.guest("app", "pkill -u dvm-agent -f 'ln -sfn' || true", user="root")
    assert home_snapshot(app) == before
    assert app.guest("app", f"test ! -e {app.home_dir}/new && echo absent").strip() == "absent"
