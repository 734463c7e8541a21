"""Incremental sync (issue 14): a recipe runs again only when what it depends on changed. Through
the CLI against the simulator, the guest program really running in the guest sandbox; the
records live in the guest's /var/lib/dvm, root only."""

import json
import os

import pytest

from conftest import DVM

pytestmark = pytest.mark.usefixtures("sandbox")

# Each recipe appends its name to a run log in the guest, so a test sees what really ran.
COUNT = 'echo "{name}" >>/tmp/dvm-test-runs\n'


def runs(dvm, vm="app"):
    out = dvm.guest(vm, "cat /tmp/dvm-test-runs 2>/dev/null; rm -f /tmp/dvm-test-runs")
    return out.split()


def sync_json(dvm, *args, env=None):
    r = dvm.ok("sync", "app", "--json", *args, env=env)
    return json.loads(r.stdout.strip().splitlines()[-1])["result"], r


def outcome(result):
    """{recipe: "ran" | "skipped"} of a sync's result document."""
    return {t["name"]: ("skipped" if t["skipped"] else "ran") for t in result["recipes"]}


def three_recipes(dvm, extra=""):
    for name in ("alpha", "beta", "gamma"):
        dvm.recipe(name, COUNT.format(name=name))
    dvm.vm("app", 'recipes = ["alpha", "beta", "gamma"]\n' + extra)


def test_a_second_sync_runs_nothing_but_the_baseline_in_two_limactl_calls(dvm):
    three_recipes(dvm)
    first, _ = sync_json(dvm)
    assert outcome(first) == {"baseline": "ran", "alpha": "ran", "beta": "ran", "gamma": "ran"}
    assert runs(dvm) == ["alpha", "beta", "gamma"]
    dvm.sim.clear_calls()
    second, r = sync_json(dvm)
    assert outcome(second) == {"baseline": "ran", "alpha": "skipped", "beta": "skipped", "gamma": "skipped"}
    assert runs(dvm) == []
    assert second["limactl_calls"] == 2
    assert [c["subcommand"] for c in dvm.sim.calls()] == ["list", "shell"]
    events = [json.loads(line) for line in r.stdout.strip().splitlines()[:-1]]
    assert [e["name"] for e in events if e["event"] == "recipe_skipped"] == ["alpha", "beta", "gamma"]
    # The CLI's own lines, without --json.
    r = dvm.ok("sync", "app")
    for name in ("alpha", "beta", "gamma"):
        assert f"\u2013 {name} (unchanged)" in r.stderr
    assert "(1 recipe run, 3 unchanged, 2 limactl calls)" in r.stdout


def test_editing_a_user_recipe_reruns_only_it(dvm):
    three_recipes(dvm)
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.recipe("beta", COUNT.format(name="beta") + "true  # edited\n")
    result, _ = sync_json(dvm)
    assert outcome(result)["beta"] == "ran"
    assert runs(dvm) == ["beta"]


def test_an_env_value_reruns_the_recipes_that_read_it(dvm):
    dvm.recipe("reader", COUNT.format(name="reader") + 'echo "greeting: $DVM_GREETING"\n')
    dvm.recipe("setting", COUNT.format(name="setting") + 'dvm_setting COLOUR blue >/dev/null\n')
    dvm.recipe("other", COUNT.format(name="other"))
    dvm.vm("app", 'recipes = ["reader", "setting", "other"]\n[env]\nGREETING = "hello"\nCOLOUR = "red"\n')
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.vm("app", 'recipes = ["reader", "setting", "other"]\n[env]\nGREETING = "bye"\nCOLOUR = "red"\n')
    dvm.ok("sync", "app")
    assert runs(dvm) == ["reader"]
    dvm.vm("app", 'recipes = ["reader", "setting", "other"]\n[env]\nGREETING = "bye"\n')  # COLOUR removed
    dvm.ok("sync", "app")
    assert runs(dvm) == ["setting"]


def test_a_failed_recipe_runs_again_and_what_came_after_it_too(dvm):
    three_recipes(dvm)
    dvm.recipe("beta", COUNT.format(name="beta") + "test ! -e /tmp/dvm-test-fail\n")
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.recipe("beta", COUNT.format(name="beta") + "test ! -e /tmp/dvm-test-fail  # v2\n")
    dvm.guest("app", "touch /tmp/dvm-test-fail")
    r = dvm.run("sync", "app")
    assert r.returncode != 0 and "beta" in r.stderr
    assert runs(dvm) == ["beta"]
    dvm.guest("app", "rm /tmp/dvm-test-fail")
    dvm.ok("sync", "app")
    assert runs(dvm) == ["beta"]  # gamma had not changed and had run before
    dvm.ok("sync", "app")
    assert runs(dvm) == []


def test_full_and_recipe_run_what_they_name(dvm):
    three_recipes(dvm)
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.ok("sync", "app", "--full")
    assert runs(dvm) == ["alpha", "beta", "gamma"]
    result, _ = sync_json(dvm, "--recipe", "gamma", "--recipe", "alpha")
    assert outcome(result) == {"baseline": "ran", "alpha": "ran", "beta": "skipped", "gamma": "ran"}
    assert runs(dvm) == ["alpha", "gamma"]
    # A name the VM does not run is a usage error before any limactl call.
    dvm.sim.clear_calls()
    r = dvm.run("sync", "app", "--recipe", "delta")
    assert r.returncode == 2 and 'does not run recipe "delta"' in r.stderr and "alpha, beta, gamma" in r.stderr
    assert dvm.sim.calls() == []
    r = dvm.run("sync", "app", "--full", "--recipe", "alpha")
    assert r.returncode == 2


def test_always_recipes_run_every_time(dvm):
    three_recipes(dvm)
    dvm.recipe("beta", "# Always: true\n" + COUNT.format(name="beta"))
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.ok("sync", "app")
    assert runs(dvm) == ["beta"]
    recipes = json.loads(dvm.ok("recipes", "--json").stdout)
    assert [r["always"] for r in recipes["recipes"] if r["name"] == "beta"] == [True]


def test_a_removed_recipe_is_forgotten_and_runs_when_it_comes_back(dvm):
    three_recipes(dvm)
    dvm.ok("sync", "app")
    runs(dvm)
    assert "beta" in dvm.guest("app", "ls /var/lib/dvm/recipes", user="root").split()
    dvm.vm("app", 'recipes = ["alpha", "gamma"]\n')
    dvm.ok("sync", "app")
    assert dvm.guest("app", "ls /var/lib/dvm/recipes", user="root").split() == ["alpha", "baseline", "gamma"]
    dvm.vm("app", 'recipes = ["alpha", "beta", "gamma"]\n')
    dvm.ok("sync", "app")
    assert runs(dvm) == ["beta"]


def test_the_records_are_root_only_and_tampering_only_causes_a_rerun(dvm):
    three_recipes(dvm)
    dvm.ok("sync", "app")
    runs(dvm)
    listing = dvm.guest("app", "stat -c '%a %U %n' /var/lib/dvm /var/lib/dvm/recipes /var/lib/dvm/recipes/* "
                               "/var/lib/dvm/fingerprint.key", user="root")
    for line in listing.splitlines():
        mode, owner, _ = line.split(" ", 2)
        assert owner == "root" and mode in ("700", "600"), line
    # The agent user (created here for the check) cannot even list them.
    dvm.guest("app", "id dvm-agent >/dev/null 2>&1 || useradd -r -M dvm-agent", user="root")
    r = dvm.sim.guest_run("dvm-app", "ls /var/lib/dvm/recipes; cat /var/lib/dvm/recipes/alpha", user="dvm-agent")
    assert r.returncode != 0 and b"dvm-fp-1" not in r.stdout
    # The main user (with sudo): garbage in one record, another recipe's record copied over a
    # second, and the third replaced by a link to the second. Each only makes its recipe run.
    dvm.guest("app", "cd /var/lib/dvm/recipes && echo garbage >alpha && cp gamma beta && "
                     "rm gamma && ln -s beta gamma", user="root")
    dvm.ok("sync", "app")
    assert runs(dvm) == ["alpha", "beta", "gamma"]
    # An edited recipe is never skipped, whatever its old record says: an old line put back
    # after the edit.
    old = dvm.guest("app", "cat /var/lib/dvm/recipes/beta", user="root")
    dvm.recipe("beta", COUNT.format(name="beta") + ": edited\n")
    dvm.ok("sync", "app")
    assert runs(dvm) == ["beta"]
    dvm.recipe("beta", COUNT.format(name="beta") + ": edited again\n")
    dvm.guest("app", f"printf '%s' '{old}' >/var/lib/dvm/recipes/beta", user="root")
    dvm.ok("sync", "app")
    assert runs(dvm) == ["beta"]
    # A link planted as the store itself is not followed: the store is made again.
    dvm.guest("app", "mkdir -p /tmp/elsewhere && rm -rf /var/lib/dvm/recipes && "
                     "ln -s /tmp/elsewhere /var/lib/dvm/recipes", user="root")
    dvm.ok("sync", "app")
    assert runs(dvm) == ["alpha", "beta", "gamma"]
    assert dvm.guest("app", "ls -A /tmp/elsewhere", user="root") == ""
    assert dvm.guest("app", "test -d /var/lib/dvm/recipes && ! test -L /var/lib/dvm/recipes && echo dir",
                     user="root").strip() == "dir"


SECRET_RECIPE = COUNT.format(name="{name}") + 'dvm_secret API_TOKEN >/dev/null\n'


@pytest.mark.needs_simulator("a LIMA_HOME without guest disk images to scan")
def test_a_changed_secret_reruns_only_the_recipe_that_uses_it_and_leaves_no_trace(dvm):
    from test_sync import assert_nowhere_on_host

    dvm.recipe("user", COUNT.format(name="user") + "dvm_secret API_TOKEN >/dev/null\n")
    dvm.recipe("plain", COUNT.format(name="plain"))
    # Tracing left on by an earlier recipe must not print what the runner compares.
    dvm.recipe("tracer", "# Always: true\nset -x\n")
    dvm.vm("app", 'recipes = ["tracer", "user", "plain"]\nsecrets = ["API_TOKEN"]\n')
    first_value, second_value = "token-one-Zq81", "token-two-Xw42"
    outputs = []
    r = dvm.ok("sync", "app", "--json", env={"API_TOKEN": first_value})
    outputs += [r.stdout, r.stderr]
    runs(dvm)
    r = dvm.ok("sync", "app", "--json", env={"API_TOKEN": first_value})
    outputs += [r.stdout, r.stderr]
    assert runs(dvm) == []
    r = dvm.ok("sync", "app", "--json", env={"API_TOKEN": second_value})
    outputs += [r.stdout, r.stderr]
    assert runs(dvm) == ["user"]
    plan = dvm.ok("plan", "app", env={"API_TOKEN": second_value})
    outputs += [plan.stdout, plan.stderr]
    # No trace on the host of the values, of the key or of the secret-derived fingerprint (the
    # third field of the record of the recipe that uses the secret; the second is the host's).
    record = dvm.guest("app", "cat /var/lib/dvm/recipes/user", user="root").split()
    key = dvm.guest("app", "cat /var/lib/dvm/fingerprint.key", user="root").strip()
    assert record[0] == "dvm-fp-1" and record[1] != record[2] and len(key) == 64
    derived = {record[2], key}
    for value in (first_value, second_value, *derived):
        assert_nowhere_on_host(dvm, value.encode(), outputs)
    # The agent user sees nothing of it either (no record, no key, no secret).
    dvm.guest("app", "id dvm-agent >/dev/null 2>&1 || useradd -r -M dvm-agent", user="root")
    r = dvm.sim.guest_run("dvm-app", "cat /var/lib/dvm/fingerprint.key /var/lib/dvm/recipes/user; "
                          "grep -rs token- /var/lib /run /tmp", user="dvm-agent")
    for value in (first_value, second_value, *derived):
        assert value.encode() not in r.stdout


def test_the_library_and_python_report_skipped(dvm):
    three_recipes(dvm)
    dvm.ok("sync", "app")
    doc, _ = sync_json(dvm)
    assert all(isinstance(t["skipped"], bool) for t in doc["recipes"])
    assert os.path.exists(DVM)
