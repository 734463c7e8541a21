"""Incremental sync (issue 14): a recipe runs again only when what it depends on changed. Through
the CLI against the simulator, the guest program really running in the guest sandbox; the
records live in the guest's /var/lib/dvm, root only."""

import json

import pytest

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
    rows = {line.split()[0]: line.split()[2] for line in dvm.ok("recipes").stdout.splitlines()[1:]}
    assert (rows["beta"], rows["alpha"], rows["baseline"]) == ("always", "if", "always")


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


def states(doc_recipes):
    return {r["name"]: (r["freshness"], r["will_run"]) for r in doc_recipes}


def test_plan_says_what_the_next_sync_runs_and_changes_nothing(dvm):
    three_recipes(dvm)
    # A VM that does not exist: everything runs (one read-only `limactl list`, no shell).
    plan = dvm.json("plan", "app")
    assert states(plan["recipes"]) == {"baseline": ("never_ran", True), "alpha": ("never_ran", True),
                                       "beta": ("never_ran", True), "gamma": ("never_ran", True)}
    assert [c["subcommand"] for c in dvm.sim.calls()] == ["list"]
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.recipe("beta", COUNT.format(name="beta") + ": edited\n")
    before = dvm.guest("app", "ls -la --time-style=full-iso /var/lib/dvm /var/lib/dvm/recipes; "
                              "cat /var/lib/dvm/recipes/*", user="root")
    dvm.sim.clear_calls()
    plan = dvm.json("plan", "app")
    assert states(plan["recipes"]) == {"baseline": ("current", True), "alpha": ("current", False),
                                       "beta": ("changed", True), "gamma": ("current", False)}
    assert all(r["last_run"] and r["last_run"].endswith("Z") for r in plan["recipes"])
    assert [c["subcommand"] for c in dvm.sim.calls()] == ["list", "shell"]
    text = dvm.ok("plan", "app").stdout
    assert "beta  runs (changed since its last run" in text
    assert "alpha  skipped (unchanged since " in text
    assert "baseline  runs (always; unchanged since " in text
    summary = dvm.ok("plan", "app", "--summary").stdout
    assert "gamma  skipped" in summary
    # Nothing was changed by the plans: the records are as they were, and nothing ran.
    assert dvm.guest("app", "ls -la --time-style=full-iso /var/lib/dvm /var/lib/dvm/recipes; "
                            "cat /var/lib/dvm/recipes/*", user="root") == before
    assert runs(dvm) == []
    # The sync does what the plan said.
    result, _ = sync_json(dvm)
    assert outcome(result) == {"baseline": "ran", "alpha": "skipped", "beta": "ran", "gamma": "skipped"}
    # A stopped VM: unknown, without starting it.
    dvm.ok("stop", "app")
    dvm.sim.clear_calls()
    plan = dvm.json("plan", "app")
    assert {r["freshness"] for r in plan["recipes"]} == {"unknown"}
    assert [c["subcommand"] for c in dvm.sim.calls()] == ["list"]


def test_plan_without_limactl_still_works(dvm):
    three_recipes(dvm)
    r = dvm.ok("plan", "app", "--json", env={"LIMACTL": None, "PATH": "/usr/bin:/bin"})
    doc = json.loads(r.stdout)
    assert {x["freshness"] for x in doc["recipes"]} == {"unknown"}


def test_status_shows_when_each_recipe_ran_and_whether_it_is_current(dvm):
    three_recipes(dvm, '[env]\nGREETING = "hi"\n')
    dvm.recipe("gamma", COUNT.format(name="gamma") + 'echo "$DVM_GREETING"\n')
    dvm.ok("sync", "app")
    doc = dvm.json("status", "app")
    assert states(doc["recipe_states"]) == {"baseline": ("current", True), "alpha": ("current", False),
                                            "beta": ("current", False), "gamma": ("current", False)}
    dvm.vm("app", 'recipes = ["alpha", "beta", "gamma"]\n[env]\nGREETING = "hello"\n')
    text = dvm.ok("status", "app").stdout
    assert "gamma  runs (changed since its last run" in text and "alpha  skipped (unchanged since" in text
    # `ls` reads no guest.
    dvm.sim.clear_calls()
    listed = dvm.json("ls")
    assert listed[0]["recipe_states"] == [] if isinstance(listed, list) else True
    assert "shell" not in [c["subcommand"] for c in dvm.sim.calls()]


CHECKED = """dvm_check() {
  test -e /tmp/dvm-test-installed
}
touch /tmp/dvm-test-installed
echo "checked" >>/tmp/dvm-test-runs
"""


def test_doctor_runs_the_recipes_checks_and_a_failing_one_makes_the_next_sync_run_it(dvm):
    dvm.recipe("checked", CHECKED)
    dvm.recipe("plain", COUNT.format(name="plain"))
    dvm.vm("app", 'recipes = ["checked", "plain"]\n')
    dvm.ok("sync", "app")
    runs(dvm)
    doc = dvm.json("doctor", "app")
    mine = [c for c in doc["checks"] if c["check"] == "recipe-checks"]
    assert [(c["status"], c["message"]) for c in mine] == [("ok", "recipe checked: its dvm_check passes")]
    dvm.ok("sync", "app")
    assert runs(dvm) == []
    # What the recipe installed is gone: its check fails, and the next sync runs it again.
    dvm.guest("app", "rm /tmp/dvm-test-installed")
    r = dvm.run("doctor", "app", "--json")
    assert r.returncode == 1
    mine = [c for c in json.loads(r.stdout)["checks"] if c["check"] == "recipe-checks"]
    assert mine[0]["status"] == "problem" and "the next `dvm sync app` runs it again" in mine[0]["message"]
    plan = dvm.json("plan", "app")
    assert states(plan["recipes"])["checked"] == ("never_ran", True)
    dvm.ok("sync", "app")
    assert runs(dvm) == ["checked"]
    assert dvm.json("doctor", "app")["problems"] == 0


def test_a_check_that_is_not_closed_is_a_config_error(dvm):
    dvm.recipe("broken", "dvm_check() {\n  true\n  }\n: the closing brace above is indented\n")
    dvm.vm("app", 'recipes = ["broken"]\n')
    r = dvm.run("plan", "app")
    assert r.returncode == 2 and "broken.sh:2" in r.stderr and "dvm_check" in r.stderr


# A recipe with a part that runs at every sync: it logs "NAME-every" to the run log, and fails
# while /tmp/dvm-test-every-fails exists.
EVERY = """echo "{name}" >>/tmp/dvm-test-runs
dvm_every_sync() {{
  echo "{name}-every" >>/tmp/dvm-test-runs
  test ! -e /tmp/dvm-test-every-fails
  DVM_TEST_EVERY_RAN=1
}}
"""


def test_dvm_every_sync_runs_after_the_recipe_and_alone_when_it_is_skipped(dvm):
    dvm.recipe("every", EVERY.format(name="every"))
    # A later recipe sees what the every-sync part set, whether or not its recipe ran.
    after = COUNT.format(name="after") + 'echo "after saw ${DVM_TEST_EVERY_RAN:-nothing}" >>/tmp/dvm-test-runs\n'
    dvm.recipe("after", after)
    dvm.vm("app", 'recipes = ["every", "after"]\n')
    dvm.ok("sync", "app")
    assert runs(dvm) == ["every", "every-every", "after", "after", "saw", "1"]
    dvm.recipe("after", after + ": edited\n")
    result, r = sync_json(dvm)
    assert outcome(result) == {"baseline": "ran", "every": "skipped", "after": "ran"}
    assert runs(dvm) == ["every-every", "after", "after", "saw", "1"]
    recipes = json.loads(dvm.ok("recipes", "--json").stdout)["recipes"]
    assert [(x["has_every_sync"], x["has_check"]) for x in recipes if x["name"] == "every"] == [(True, False)]
    # plan and status say that the part runs although the recipe is skipped.
    plan = dvm.json("plan", "app")
    assert {r["name"]: (r["every_sync"], r["will_run"]) for r in plan["recipes"]} == {
        "baseline": (False, True), "every": (True, False), "after": (False, False)}
    assert "every  skipped but for its dvm_every_sync (unchanged since " in dvm.ok("status", "app").stdout
    assert [line.split(None, 2)[2] for line in dvm.ok("recipes").stdout.splitlines()
            if line.startswith("every ")] == ["if changed (dvm_every_sync: always)  test recipe"]
    assert [x["has_every_sync"] for x in recipes if x["name"] == "baseline"] == [False]


def test_a_failing_every_sync_part_fails_the_sync_and_the_next_one_runs_the_whole_recipe(dvm):
    dvm.recipe("every", EVERY.format(name="every"))
    dvm.recipe("plain", COUNT.format(name="plain"))
    dvm.vm("app", 'recipes = ["every", "plain"]\n')
    dvm.ok("sync", "app")
    runs(dvm)
    dvm.guest("app", "touch /tmp/dvm-test-every-fails")
    r = dvm.run("sync", "app")
    assert r.returncode != 0 and "recipe every failed" in r.stderr, r.stderr
    assert runs(dvm) == ["every-every"]  # the recipe itself was skipped, and nothing after it ran
    assert "every" not in dvm.guest("app", "ls /var/lib/dvm/recipes", user="root").split()
    dvm.guest("app", "rm /tmp/dvm-test-every-fails")
    result, _ = sync_json(dvm)
    assert outcome(result) == {"baseline": "ran", "every": "ran", "plain": "skipped"}
    assert runs(dvm) == ["every", "every-every"]


def test_a_forced_run_that_fails_is_not_skipped_by_the_next_sync(dvm):
    three_recipes(dvm)
    dvm.recipe("beta", COUNT.format(name="beta") + "test ! -e /tmp/dvm-test-fail\n")
    dvm.ok("sync", "app")
    runs(dvm)
    # Nothing changed on the host, so beta's fingerprint still equals its record; the forced
    # run fails, and that must not leave the old record standing.
    dvm.guest("app", "touch /tmp/dvm-test-fail")
    r = dvm.run("sync", "app", "--recipe", "beta")
    assert r.returncode != 0 and "recipe beta failed" in r.stderr
    assert "beta" not in dvm.guest("app", "ls /var/lib/dvm/recipes", user="root").split()
    dvm.guest("app", "rm /tmp/dvm-test-fail")
    runs(dvm)
    result, _ = sync_json(dvm)
    assert outcome(result) == {"baseline": "ran", "alpha": "skipped", "beta": "ran", "gamma": "skipped"}


def test_an_every_sync_part_that_is_not_closed_is_a_config_error(dvm):
    dvm.recipe("broken", "true\ndvm_every_sync() {\n  true\n}  # not alone\n")
    dvm.vm("app", 'recipes = ["broken"]\n')
    r = dvm.run("sync", "app")
    assert r.returncode == 2 and "broken.sh:3:1" in r.stderr and "dvm_every_sync" in r.stderr
    assert dvm.sim.calls() == []
