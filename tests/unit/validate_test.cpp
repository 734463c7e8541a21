// dvm::validate: every problem of every file at once (the bad-config corpus), in file order, the
// warnings that loading alone keeps quiet about, and no change to how load() refuses.
#include <doctest/doctest.h>

#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/timeouts.hpp>

#include "bad_config_cases.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

using dvm_test::config_tree;
namespace fs = std::filesystem;

namespace {

std::vector<dvm::config_problem> validate(const config_tree& t,
                                          const std::map<std::string, std::string>& env = {}) {
  return dvm::validate(t.path(), dvm_test::test_host(), env);
}

std::vector<dvm::config_problem> of_severity(const std::vector<dvm::config_problem>& all, dvm::severity level) {
  std::vector<dvm::config_problem> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out),
               [&](const auto& p) { return p.severity == level; });
  return out;
}

std::string listing(const std::vector<dvm::config_problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += std::string(to_string(p.severity)) + ": " + to_string(p) + "\n";
  return out;
}

bool has(const std::vector<dvm::config_problem>& problems, const std::string& phrase) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const auto& p) { return p.rule.find(phrase) != std::string::npos; });
}

}  // namespace

TEST_CASE("validate: each case of the bad-config corpus gives the error load() gives, as a problem") {
  for (const auto& c : dvm_test::bad_cases) {
    std::string title = c.title;
    CAPTURE(title);
    config_tree t;
    dvm_test::add_recipes(t);
    if (c.global != nullptr) t.global(c.global);
    t.vm("app", c.vm);
    std::optional<dvm::config_error> first;
    try {
      (void)t.load("app");
    } catch (const dvm::config_error& e) {
      first = e;
    }
    REQUIRE(first.has_value());
    auto problems = of_severity(validate(t), dvm::severity::error);
    CAPTURE(listing(problems));
    auto same = std::find_if(problems.begin(), problems.end(), [&](const dvm::config_problem& p) {
      return p.file == first->file() && p.line == first->line() && p.column == first->column() &&
             p.key_path == first->key_path() && p.rule == first->rule();
    });
    CHECK(same != problems.end());
    if (same != problems.end()) {
      CHECK(to_string(*same) == first->what());
      CHECK(same->vm == (c.in_global ? same->vm : std::string("app")));
    }
  }
}

TEST_CASE("validate: the whole corpus at once, one VM file per case, in file order") {
  config_tree t;
  dvm_test::add_recipes(t);
  // The VM-file cases that need no config.toml, each in a file of its own.
  std::vector<std::pair<std::string, const dvm_test::bad_case*>> files;
  int n = 0;
  for (const auto& c : dvm_test::bad_cases) {
    if (c.global != nullptr || c.in_global) continue;
    // (code_root "//home" with user "app" is the home only for a VM called "app".)
    if (std::string_view(c.title) == "code_root //home") continue;
    std::ostringstream name;
    name << "case-" << (n < 10 ? "0" : "") << n;
    ++n;
    t.vm(name.str(), c.vm);
    files.emplace_back(name.str(), &c);
  }
  REQUIRE(files.size() >= 60);
  // And several config.toml errors in one file.
  t.global("cpus = 4\n[defaults]\ncpu = 4\nmemory = \"0\"\n[lima]\npassenv = []\n");
  auto problems = validate(t);
  CAPTURE(listing(problems));
  auto errors = of_severity(problems, dvm::severity::error);
  for (const auto& [name, c] : files) {
    std::string title = c->title;
    CAPTURE(title);
    fs::path file = t.path() / "vms" / (name + ".toml");
    bool found = std::any_of(errors.begin(), errors.end(), [&](const dvm::config_problem& p) {
      return p.file == file && p.key_path == c->key && p.rule.find(c->rule) != std::string::npos;
    });
    CHECK(found);
  }
  // config.toml: every one of its errors, first in the list, in line order.
  REQUIRE(errors.size() >= 4);
  fs::path global = t.path() / "config.toml";
  CHECK(errors[0].file == global);
  CHECK(errors[0].key_path == "cpus");
  CHECK(errors[1].key_path == "defaults.cpu");
  CHECK(errors[2].key_path == "defaults.memory");
  CHECK(errors[3].key_path == "lima.passenv");
  // File order: config.toml, then vms/ by name; by line and column within a file.
  auto order = [&](const dvm::config_problem& p) {
    return std::tuple(p.file == global ? 0 : 1, p.file, p.line, p.column);
  };
  for (std::size_t i = 1; i < problems.size(); ++i) {
    CHECK_MESSAGE(!(order(problems[i]) < order(problems[i - 1])), to_string(problems[i]));
  }
}

TEST_CASE("validate: every error of one file, not only the first") {
  config_tree t;
  dvm_test::add_recipes(t);
  t.vm("app",
       "cpus = \"2\"\n"
       "memory = 2\n"
       "arch = \"arm64\"\n"
       "memroy = \"2GiB\"\n"
       "ports = [\"3000:3000\", \"8000:70000\", \"3000:4000\"]\n"
       "recipes = [\"git\", \"nde\", \"zsh\", \"Node\"]\n"
       "[env]\n"
       "DB_PASSWORD = \"x\"\n"
       "foo = \"y\"\n");
  auto errors = of_severity(validate(t), dvm::severity::error);
  CAPTURE(listing(errors));
  std::vector<std::string> keys;
  for (const auto& p : errors) keys.push_back(p.key_path);
  CHECK(keys == std::vector<std::string>{"cpus", "memory", "arch", "memroy", "ports[1]", "ports[2]",
                                         "recipes[1]", "recipes[3]", "env.DB_PASSWORD", "env.foo"});
  for (const auto& p : errors) {
    CHECK(p.vm == "app");
    CHECK(p.line > 0);
    CHECK(p.column > 0);
  }
}

TEST_CASE("validate: warnings that loading keeps quiet about") {
  config_tree t;
  t.vm("Bad_Name", "cpus = 2\n");
  t.vm("web", "disk = \"2GiB\"\nvm_type = \"vz\"\nports = [\"80:8080\", \"8443:443\"]\ncpus = 12\n");
  auto problems = validate(t, {{"DVM_TIMEOUT", "2m"}});
  CAPTURE(listing(problems));
  CHECK(of_severity(problems, dvm::severity::error).empty());
  auto warnings = of_severity(problems, dvm::severity::warning);
  REQUIRE(warnings.size() == 6);
  // vms/Bad_Name.toml sorts before vms/web.toml; the environment comes last.
  CHECK(warnings[0].file == t.path() / "vms" / "Bad_Name.toml");
  CHECK(warnings[0].rule.find("not a VM name") != std::string::npos);
  CHECK(warnings[0].rule.find("dvm ignores this file") != std::string::npos);
  CHECK(warnings[1].key_path == "disk");
  CHECK(warnings[1].rule.find("smaller than the 5GiB disk") != std::string::npos);
  CHECK(warnings[2].key_path == "vm_type");
  CHECK(warnings[2].rule.find("Lima's vz driver exists only on macOS") != std::string::npos);
  CHECK(warnings[3].key_path == "ports[0]");
  CHECK(warnings[3].rule.find("host port 80 is below 1024") != std::string::npos);
  CHECK(warnings[3].line == 3);
  CHECK(warnings[4].key_path == "cpus");
  CHECK(warnings[4].rule.find("more than the 8 CPUs") != std::string::npos);
  CHECK(warnings[5].file.empty());
  CHECK(warnings[5].key_path == "DVM_TIMEOUT");
  CHECK(to_string(warnings[5]).starts_with("DVM_TIMEOUT=\"2m\" is not valid"));
  for (std::size_t i = 1; i < 5; ++i) CHECK(warnings[i].vm == "web");
  // load() still loads the VM, with the same warnings (the file-level ones are not the VM's).
  dvm::vm_config vm = t.load("web");
  CHECK(vm.warnings.size() == 4);
  // On a Mac, vz runs and low ports bind; the disk and CPU warnings stay.
  dvm::host_info mac = dvm_test::test_host();
  mac.os = "darwin";
  auto on_mac = dvm::validate(t.path(), mac, {});
  CHECK(on_mac.size() == 3);
  CHECK_FALSE(has(on_mac, "vz driver"));
  CHECK_FALSE(has(on_mac, "below 1024"));
}

TEST_CASE("validate: every bad user recipe, and load() keeps refusing them afterwards") {
  config_tree t;
  t.recipe("Bad_Name", "# Description: x\n");
  t.recipe("nodesc", "echo hi\n");
  t.recipe("needs", "# Description: needs a missing one\n# Requires: nothing-here\n");
  t.recipe("fine", "# Description: fine\n");
  t.vm("app", "recipes = [\"fine\"]\n");
  auto problems = validate(t);
  CAPTURE(listing(problems));
  auto errors = of_severity(problems, dvm::severity::error);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].file.filename() == "Bad_Name.sh");
  CHECK(errors[1].file.filename() == "needs.sh");
  CHECK(errors[1].line == 2);
  CHECK(errors[2].file.filename() == "nodesc.sh");
  dvm::config_store store = t.store();
  (void)store.validate({});
  CHECK_THROWS_AS((void)store.load("app"), dvm::config_error);
}

TEST_CASE("validate: an unknown @set is no problem of its own when [recipe_sets] did not load") {
  config_tree t;
  dvm_test::add_recipes(t);
  // [recipe_sets] does not parse, so @tools is unknown only as an echo of that error.
  t.global("[recipe_sets]\ntools = \"git\"\n");
  t.vm("app", "recipes = [\"@tools\"]\ncpus = 0\n");
  auto problems = validate(t);
  CAPTURE(listing(problems));
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].key_path == "recipe_sets.tools");
  CHECK(problems[1].key_path == "cpus");
  CHECK_FALSE(has(problems, "unknown recipe set"));
}

TEST_CASE("validate: a clean or missing config dir has no problems") {
  config_tree t;
  t.vm("app", "ports = [\"3000:3000\"]\n");
  CHECK(validate(t, {{"DVM_TIMEOUT", "120"}}).empty());
  CHECK(dvm::validate(t.path() / "nowhere", dvm_test::test_host(), {}).empty());
}

TEST_CASE("severity prints as its name") {
  CHECK(to_string(dvm::severity::error) == "error");
  CHECK(to_string(dvm::severity::warning) == "warning");
  std::ostringstream out;
  out << dvm::severity::warning;
  CHECK(out.str() == "warning");
}

TEST_CASE("parse_timeout_cap reads DVM_TIMEOUT") {
  CHECK_FALSE(dvm::parse_timeout_cap("").has_value());
  CHECK(*dvm::parse_timeout_cap("120") == std::chrono::seconds(120));
  CHECK(*dvm::parse_timeout_cap("0.5") == std::chrono::milliseconds(500));
  for (const char* bad : {"0", "-1", "1e3", "inf", "0x10", " 5", "5s", "1.2.3", "99999999999"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS((void)dvm::parse_timeout_cap(bad), dvm::error);
  }
}
