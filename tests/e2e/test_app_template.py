"""The bundled `app` template with the AI recipes, synced end to end with `dvm sync` in the
simulator's guest: the bundled recipes really run (network tools are the recorded stand-ins of
tests/recipes/guest_stubs), twice, and the agent sandbox they set up works."""

import pytest

from conftest import install_guest_stubs

pytestmark = pytest.mark.usefixtures("sandbox")

GUEST_USER = "developer"
RECIPES = ["git", "node", "agent-user", "codex", "claude", "chezmoi"]


@pytest.mark.needs_simulator("the call log of its dnf5 stand-in (sim.guest_calls)")
def test_app_template_with_ai_recipes_syncs_twice(dvm):
    r = dvm.ok("init", "app")
    config = dvm.config / "vms" / "app.toml"
    text = config.read_text()
    assert 'recipes = ["git"]' in text
    # The template as a user would edit it: the commented example line made real.
    text = text.replace('recipes = ["git"]', "recipes = [" + ", ".join(f'"{x}"' for x in RECIPES) + "]")
    text = text.replace('# CHEZMOI_REPO = "https://github.com/you/dotfiles.git"',
                        'CHEZMOI_REPO = "https://github.com/you/dotfiles.git"')
    plain = text.replace("recipes = [" + ", ".join(f'"{x}"' for x in RECIPES) + "]", "recipes = []")
    config.write_text(plain)
    dvm.ok("sync", "app")  # creates the VM (baseline only)
    install_guest_stubs(dvm, "app")
    config.write_text(text)
    first = dvm.run("sync", "app", timeout=600)
    assert first.returncode == 0, first.stderr[-4000:]
    for recipe in ["baseline", *RECIPES]:
        assert f"recipe {recipe} finished" in first.stderr
    # Idempotent: the second sync, every recipe run again (--full), succeeds and installs nothing new.
    dnf_before = len(dvm.sim.guest_calls("dvm-app", "dnf5"))
    second = dvm.run("sync", "app", "--full", timeout=600)
    assert second.returncode == 0, second.stderr[-4000:]
    state_changing = [c["argv"] for c in dvm.sim.guest_calls("dvm-app", "dnf5")[dnf_before:]
                      if c["argv"] and c["argv"][0] in ("install", "remove", "upgrade")]
    assert state_changing == [], state_changing

    # What the recipes built: the agent user, its sandbox runner and the tool wrappers.
    out = dvm.guest("app", "id dvm-agent && test -x /usr/local/libexec/dvm-ai-bwrap && "
                           "test -x /usr/local/bin/codex && test -x /usr/local/bin/claude && echo ok")
    assert out.strip().endswith("ok")
    codex = dvm.guest("app", "cat /usr/local/libexec/dvm-codex 2>/dev/null || cat /usr/local/bin/codex")
    assert "--dangerously-bypass-approvals-and-sandbox" in codex
    # The agent sees the project at /workspace and not the main user's keys.
    dvm.guest("app", f"mkdir -p ~/.ssh && echo private >~/.ssh/id_test && chmod 600 ~/.ssh/id_test "
                     f"&& echo hello >/home/{GUEST_USER}/code/app/README", user=GUEST_USER)
    # A secret file created after the last sync, readable by all (0644): the agent, which may
    # traverse the main home, can read it until the next sync denies it.
    npmrc = f"/home/{GUEST_USER}/.npmrc"
    dvm.guest("app", f"echo //registry.example/:_authToken=npm-secret-42 >{npmrc} && chmod 644 {npmrc}",
              user=GUEST_USER)
    agent_read = ["sudo", "-n", "-u", "dvm-agent", "cat", npmrc]
    before = dvm.sim.guest_run("dvm-app", " ".join(agent_read), user=GUEST_USER)
    assert b"npm-secret-42" in before.stdout, "the attack must work before the sync, or this test proves nothing"
    # Nothing changed, so agent-user itself is skipped; its dvm_every_sync part still runs.
    third = dvm.ok("sync", "app", timeout=600)
    assert "\u2013 agent-user (unchanged)" in third.stderr and "\u2013 codex (unchanged)" in third.stderr
    after = dvm.sim.guest_run("dvm-app", " ".join(agent_read), user=GUEST_USER)
    assert after.returncode != 0 and b"npm-secret-42" not in after.stdout
    assert "user:dvm-agent:---" in dvm.guest("app", f"getfacl -cp {npmrc}")
    probe = (f"/usr/local/libexec/dvm-ai-bwrap --user dvm-agent --home /home/dvm-agent "
             f"--code-dir /home/{GUEST_USER}/code/app -- /bin/sh -c "
             f"'cat /workspace/README; cat /home/{GUEST_USER}/.ssh/id_test 2>&1 || echo denied'")
    r = dvm.sim.guest_run("dvm-app", probe, user=GUEST_USER)
    out = r.stdout.decode(errors="replace")
    assert "hello" in out, r.stderr.decode(errors="replace")
    assert "private" not in out
    # An AI recipe that runs while agent-user is skipped still finds the agent user ready
    # (DVM_AGENT_HOME, set by agent-user's dvm_every_sync).
    fourth = dvm.ok("sync", "app", "--recipe", "codex", timeout=600)
    assert "\u2013 agent-user (unchanged)" in fourth.stderr and "recipe codex finished" in fourth.stderr
    # A code directory made again (a fresh clone, say) gets its ACLs back at the next plain
    # sync, agent-user unchanged: the ACLs are its dvm_every_sync part.
    code = f"/home/{GUEST_USER}/code/app"
    dvm.guest("app", f"rm -rf {code} && mkdir {code} && echo again >{code}/README", user=GUEST_USER)
    assert "dvm-agent" not in dvm.guest("app", f"getfacl -cp {code}")
    fifth = dvm.ok("sync", "app", timeout=600)
    assert "\u2013 agent-user (unchanged)" in fifth.stderr
    acl = dvm.guest("app", f"getfacl -cp {code}")
    assert "user:dvm-agent:rwx" in acl and "default:user:dvm-agent:rwx" in acl
    r = dvm.sim.guest_run("dvm-app", probe, user=GUEST_USER)
    assert "again" in r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
