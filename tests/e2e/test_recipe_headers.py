"""A user recipe's header lines (# Requires:, # Service:, # Secret:; libdvm/recipes/README.md)
get the treatment the bundled recipes' do: the config check, `dvm log`'s unit, the activity
probe of `dvm stop --all --inactive`, and secret staging."""

import hashlib

import pytest

from conftest import GUEST_USER, require_sandbox

AI_TOOL = "# Requires: agent-user\n:\n"
WEB = "# Service: web-test.service env=WEB_SERVICE\n:\n"
TOKEN = ("# Secret: MY_TOKEN prefix=ab- charset=token\n"
         'dvm_secret MY_TOKEN | sha256sum | cut -d" " -f1 >"$HOME/tok"\n')


def test_requires_refuses_a_list_without_the_recipe_earlier(dvm):
    dvm.recipe("aitool", AI_TOOL)
    path = dvm.vm("app", 'baseline = false\nrecipes = ["git", "aitool", "agent-user"]\n')
    r = dvm.run("plan", "app")
    assert r.returncode == 2, r.stderr
    assert f"{path}:2:19" in r.stderr
    assert 'recipe "aitool" needs "agent-user" earlier in the list' in r.stderr
    r = dvm.run("sync", "app")
    assert r.returncode == 2 and 'needs "agent-user" earlier' in r.stderr
    assert dvm.sim.calls() == []
    dvm.vm("app", 'baseline = false\nrecipes = ["agent-user", "aitool"]\n')
    dvm.ok("plan", "app")


def test_recipes_json_shows_the_header_facts(dvm):
    dvm.recipe("aitool", AI_TOOL)
    dvm.recipe("web", WEB)
    dvm.recipe("tok", TOKEN)
    doc = dvm.json("recipes")
    by_name = {r["name"]: r for r in doc["recipes"]}
    assert by_name["aitool"]["requires"] == ["agent-user"]
    assert by_name["web"]["service"] == {"unit": "web-test.service", "env": "WEB_SERVICE"}
    assert by_name["tok"]["secrets"] == [{"name": "MY_TOKEN", "alias": "", "prefix": "ab-", "charset": "token"}]
    assert by_name["tok"]["service"] is None and by_name["tok"]["requires"] == []
    assert by_name["tailscale"]["secrets"][0]["prefix"] == "tskey-"
    assert by_name["codex"]["requires"] == ["agent-user"]


@pytest.mark.parametrize("header, line, rule", [
    ("#\n# Secrets: MY_TOKEN\n", 3, '"# Secrets:" is not a header key'),
    ("# Service: web.socket\n", 2, '"web.socket" is not a systemd service name'),
    ("# Secret: MY_TOKEN charset=hex\n", 2, "unknown charset=hex"),
    ("# Secret: my_token\n", 2, '"my_token" is not a valid secret name'),
    ("# Requires: nosuch\n", 2, '"# Requires:" names "nosuch", which is not a recipe'),
])
def test_a_malformed_header_line_is_a_config_error_at_its_line(dvm, header, line, rule):
    dvm.recipe("bad", header + ":\n")
    dvm.vm("app", 'baseline = false\n')
    for args in (("plan", "app"), ("recipes",)):
        r = dvm.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert f"{dvm.config / 'recipes' / 'bad.sh'}:{line}:" in r.stderr
        assert rule in r.stderr
    assert dvm.sim.calls() == []


@pytest.mark.needs_simulator("the call log of its journalctl stand-in (sim.guest_calls)")
def test_service_line_names_the_unit_for_log_and_the_activity_probe(dvm):
    require_sandbox()
    dvm.recipe("web", WEB)
    dvm.vm("app", 'baseline = false\nrecipes = ["web"]\n')
    dvm.ok("sync", "app")
    dvm.ok("log", "app")
    journal = [c["argv"] for c in dvm.sim.guest_calls("dvm-app", "journalctl")]
    assert journal[-1][-5:] == ["-u", "web-test.service", "--no-pager", "-n", "100"]
    # Renamed by the [env] key its Service line names.
    dvm.vm("app", 'baseline = false\nrecipes = ["web"]\n[env]\nWEB_SERVICE = "renamed.service"\n')
    dvm.ok("log", "app")
    journal = [c["argv"] for c in dvm.sim.guest_calls("dvm-app", "journalctl")]
    assert journal[-1][-5:] == ["-u", "renamed.service", "--no-pager", "-n", "100"]
    # An active unit of that name keeps `stop --all --inactive` away from the VM.
    dvm.guest("app", "printf '[Unit]\\nDescription=web\\n' >/etc/systemd/system/renamed.service && "
                     "systemctl start renamed.service", user="root")
    doc = dvm.json("stop", "--all", "--inactive")
    assert doc["results"] == [{"vm": "app", "action": "skipped", "reason": "active: renamed.service"}]
    dvm.guest("app", "systemctl stop renamed.service", user="root")
    doc = dvm.json("stop", "--all", "--inactive")
    assert doc["results"] == [{"vm": "app", "action": "stopped", "reason": ""}]


def test_secret_line_stages_the_secret_and_refuses_a_bad_value(dvm):
    dvm.recipe("tok", TOKEN)
    dvm.vm("app", 'baseline = false\nrecipes = ["tok"]\n')
    for value, rule in (("xy-123", 'must start with "ab-"'), ("ab-1 2", "may only contain A-Z a-z 0-9 . _ = -")):
        r = dvm.run("sync", "app", env={"MY_TOKEN": value})
        assert r.returncode == 2, r.stderr
        assert f'secret MY_TOKEN (used by recipe "tok") {rule} (the value is not shown)' in r.stderr
        assert value not in r.stderr + r.stdout
    assert dvm.sim.calls() == []
    # plan names it (never its value) like a listed secret; unset, it is not staged at all.
    doc = dvm.json("plan", "app", env={"MY_TOKEN": "ab-plan_value"})
    assert doc["secrets"] == ["MY_TOKEN"] and "ab-plan_value" not in str(doc)
    assert dvm.json("plan", "app")["secrets"] == []
    require_sandbox()
    value = "ab-Z.9_=xyz"
    dvm.ok("sync", "app", env={"MY_TOKEN": value})
    assert dvm.guest("app", f"cat /home/{GUEST_USER}/tok").strip() == hashlib.sha256(value.encode()).hexdigest()
