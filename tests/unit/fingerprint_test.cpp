// Recipe fingerprints of the incremental sync (recipes/fingerprint.hpp): what each recipe's
// fingerprint depends on, the run policies, and the records the guest prints back.
#include "guest/program.hpp"
#include "recipes/fingerprint.hpp"

#include <dvm/config.hpp>
#include <dvm/recipes.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>

namespace {

namespace fs = std::filesystem;
using dvm::detail::run_policy;

struct catalog_dir {
  fs::path dir = fs::temp_directory_path() / ("dvm-fp-" + std::to_string(::getpid()));
  catalog_dir() { fs::create_directories(dir); }
  ~catalog_dir() { fs::remove_all(dir); }
  void recipe(const std::string& name, const std::string& body) {
    std::ofstream(dir / (name + ".sh")) << "# Description: " << name << "\n" << body;
  }
  // The line and message of the config_error that loading the catalog throws ({0, ""}: none).
  std::pair<int, std::string> error() const {
    try {
      dvm::recipe_catalog c(dir);
    } catch (const dvm::config_error& e) {
      return {e.line(), e.what()};
    }
    return {0, ""};
  }
};

dvm::vm_config vm_with(std::vector<std::string> recipes, std::vector<std::pair<std::string, std::string>> env = {}) {
  dvm::vm_config vm;
  vm.name = "app";
  vm.user = "dev";
  vm.code_dir = "~/code/app";
  vm.recipes = std::move(recipes);
  vm.env = std::move(env);
  return vm;
}

std::map<std::string, std::string> fingerprints(const dvm::vm_config& vm, const dvm::recipe_catalog& c,
                                                const std::vector<std::string>& secrets = {}) {
  std::map<std::string, std::string> out;
  for (const auto& s : dvm::detail::sync_steps(vm, c, secrets, {})) out[s.r->name] = s.fingerprint;
  return out;
}

}  // namespace

TEST_CASE("sha256_hex is libcrypto's SHA-256") {
  CHECK(dvm::detail::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(dvm::detail::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("names_identifier matches whole identifiers, and after a given prefix") {
  using dvm::detail::names_identifier;
  CHECK(names_identifier("echo $DVM_GREETING", "GREETING", {"DVM_"}));
  CHECK(names_identifier("dvm_setting GREETING hi", "GREETING", {"DVM_"}));
  CHECK_FALSE(names_identifier("echo $DVM_GREETING_LONG", "GREETING", {"DVM_"}));
  CHECK_FALSE(names_identifier("echo $XDVM_GREETING", "GREETING", {"DVM_"}));
  CHECK_FALSE(names_identifier("MY_GREETING", "GREETING", {"DVM_"}));
  CHECK(names_identifier("cat $DVM_SECRET_FILE_TOKEN", "TOKEN", {"DVM_SECRET_FILE_"}));
  CHECK_FALSE(names_identifier("anything", "", {}));
}

TEST_CASE("a recipe's fingerprint changes with what it depends on, and only with that") {
  catalog_dir d;
  d.recipe("reader", "echo \"$DVM_GREETING\"\n");
  d.recipe("other", "true\n");
  d.recipe("pinned", "dvm_pinned_install x bin https://example.org/x 00\n");
  d.recipe("needs", "# Requires: reader\ntrue\n");
  d.recipe("secretive", "dvm_secret API_TOKEN >/dev/null\n");
  dvm::recipe_catalog c(d.dir);
  auto base = vm_with({"reader", "other", "pinned", "needs", "secretive"}, {{"GREETING", "hi"}, {"PIN_X_URL", "a"}});
  auto before = fingerprints(base, c);
  CHECK(before.size() == 6);  // with the baseline

  auto greeting = base;
  greeting.env = {{"GREETING", "bye"}, {"PIN_X_URL", "a"}};
  auto after = fingerprints(greeting, c);
  CHECK(after["reader"] != before["reader"]);
  CHECK(after["needs"] != before["needs"]);  // through the fingerprint of the recipe it requires
  CHECK(after["other"] == before["other"]);
  CHECK(after["baseline"] == before["baseline"]);

  auto pin = base;
  pin.env = {{"GREETING", "hi"}, {"PIN_X_URL", "b"}};
  after = fingerprints(pin, c);
  CHECK(after["pinned"] != before["pinned"]);
  CHECK(after["other"] == before["other"]);

  auto agent = base;
  agent.agent_user = "robot";
  after = fingerprints(agent, c);
  CHECK(after["other"] != before["other"]);  // DVM_AGENT_USER: every recipe sees it

  // A staged secret counts only for the recipe that names it; never its value (not known here).
  after = fingerprints(base, c, {"API_TOKEN"});
  CHECK(after["secretive"] != before["secretive"]);
  CHECK(after["other"] == before["other"]);
  auto steps = dvm::detail::sync_steps(base, c, {"API_TOKEN", "UNUSED"}, {});
  CHECK(steps.back().secrets == std::vector<std::string>{"API_TOKEN"});

  // The recipe's own text.
  d.recipe("other", "true  # edited\n");
  dvm::recipe_catalog edited(d.dir);
  after = fingerprints(base, edited);
  CHECK(after["other"] != before["other"]);
  CHECK(after["reader"] == before["reader"]);
}

TEST_CASE("run policies: baseline and Always always run; --full and --recipe force") {
  catalog_dir d;
  d.recipe("steady", "true\n");
  d.recipe("every", "# Always: true\ntrue\n");
  dvm::recipe_catalog c(d.dir);
  auto vm = vm_with({"steady", "every"});
  auto policies = [&](const dvm::detail::run_selection& s) {
    std::vector<run_policy> out;
    for (const auto& step : dvm::detail::sync_steps(vm, c, {}, s)) out.push_back(step.policy);
    return out;
  };
  CHECK(policies({}) == std::vector<run_policy>{run_policy::always, run_policy::when_changed, run_policy::always});
  CHECK(policies({true, {}}) == std::vector<run_policy>{run_policy::forced, run_policy::forced, run_policy::forced});
  CHECK(policies({false, {"steady"}}) ==
        std::vector<run_policy>{run_policy::always, run_policy::forced, run_policy::always});
  CHECK(dvm::detail::unknown_forced_recipes(vm, {false, {"steady", "nope", "baseline"}}) ==
        std::vector<std::string>{"nope"});
  CHECK(c.find("every")->always);
  CHECK_FALSE(c.find("steady")->always);
}

TEST_CASE("a misspelt Always line and an unclosed dvm_check are config errors naming the line") {
  catalog_dir d;
  d.recipe("bad", "# Always: yes\ntrue\n");
  CHECK_THROWS_WITH_AS(dvm::recipe_catalog(d.dir), doctest::Contains("takes true or false"), dvm::config_error);
  fs::remove(d.dir / "bad.sh");
  d.recipe("open", "true\ndvm_check() {\n  true\n  }\n");
  auto [line, message] = d.error();
  CHECK(line == 3);
  CHECK(message.find("dvm_check") != std::string::npos);
  fs::remove(d.dir / "open.sh");
  d.recipe("checked", "dvm_check() {\n  command -v node\n}\ndnf install node\n");
  dvm::recipe_catalog c(d.dir);
  CHECK(c.find("checked")->check == "dvm_check() {\n  command -v node\n}\n");
  CHECK(c.find("git")->check.empty());
}

TEST_CASE("dvm_every_sync: read like dvm_check, and sent as its own function after the recipe's") {
  catalog_dir d;
  d.recipe("open", "true\ndvm_every_sync () {\n  true\n} # more\n");
  auto [line, message] = d.error();
  CHECK(line == 3);
  CHECK(message.find("dvm_every_sync function must end") != std::string::npos);
  fs::remove(d.dir / "open.sh");
  d.recipe("steady", "true\ndvm_every_sync() {\n  echo each\n}\n");
  dvm::recipe_catalog c(d.dir);
  CHECK(c.find("steady")->every_sync == "dvm_every_sync() {\n  echo each\n}\n");
  CHECK(c.find("steady")->check.empty());
  // The bundled agent-user has one (its deny ACLs) and no longer runs whole at every sync.
  CHECK_FALSE(c.find("agent-user")->every_sync.empty());
  CHECK_FALSE(c.find("agent-user")->always);
  CHECK(c.find("git")->every_sync.empty());

  auto vm = vm_with({"git", "steady"});
  std::string text = dvm::detail::build_sync_program(vm, c, {}, "n0nce", {}).redacted();
  // git has none ("-"); steady's wrapper (after the baseline and git: the third) defines the
  // function and calls it.
  auto call_of = [&](std::string_view name) {
    std::size_t at = text.find("\n__dvm_run_recipe " + std::string(name) + " ");
    return at == std::string::npos ? std::string() : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  };
  CHECK(call_of("git").ends_with(" changed -"));
  CHECK(call_of("steady").ends_with(" changed __dvm_every_3"));
  CHECK(text.find("__dvm_every_3() {\ndvm_every_sync() {\n  echo each\n}\ndvm_every_sync\n}\n") <
        text.find("\n__dvm_run_recipe steady "));
}

TEST_CASE("the records the guest prints back, against the steps") {
  using dvm::detail::parse_recipe_records;
  CHECK_FALSE(parse_recipe_records("record\tgit\t" + std::string(64, 'a') + "\t5\n").has_value());  // no "end"
  std::string fp(64, 'b');
  auto records = parse_recipe_records("noise\nrecord\tgit\t" + fp + "\t1700000000\nrecord\tBAD NAME\t" + fp +
                                      "\t1\nrecord\tnode\tshort\t1\nend\n");
  REQUIRE(records.has_value());
  CHECK(records->size() == 1);
  CHECK(records->at("git").unix_time == 1700000000);

  catalog_dir d;
  d.recipe("uses", "dvm_secret API_TOKEN\n");
  dvm::recipe_catalog c(d.dir);
  auto vm = vm_with({"git", "node", "uses"});
  auto steps = dvm::detail::sync_steps(vm, c, {"API_TOKEN"}, {});
  std::map<std::string, dvm::detail::recipe_record> recorded{
      {"baseline", {steps[0].fingerprint, 10}}, {"git", {std::string(64, 'c'), 11}}, {"uses", {steps[3].fingerprint, 12}}};
  auto states = dvm::detail::recipe_states_of(steps, recorded);
  REQUIRE(states.size() == 4);
  CHECK(states[0].freshness == dvm::recipe_freshness::current);
  CHECK(states[0].will_run());  // the baseline always runs
  CHECK(states[1].freshness == dvm::recipe_freshness::changed);
  CHECK(states[2].freshness == dvm::recipe_freshness::never_ran);
  CHECK_FALSE(states[2].last_run.has_value());
  CHECK(states[3].freshness == dvm::recipe_freshness::current_unless_secrets_changed);
  CHECK_FALSE(states[3].will_run());
  auto unread = dvm::detail::recipe_states_of(steps, std::nullopt);
  CHECK(unread[1].freshness == dvm::recipe_freshness::unknown);
  CHECK(unread[1].will_run());
}
