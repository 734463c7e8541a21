// Config loading and validation: defaults, merge rules, recipe sets, and every refusal with its
// file:line:column, key path and rule.
#include <doctest/doctest.h>

#include <dvm/client.hpp>
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "bad_config_cases.hpp"
#include "test_support.hpp"

#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

using dvm_test::config_tree;

using dvm_test::add_recipes;
using dvm_test::bad_cases;
using dvm_test::position_of;

TEST_CASE("every bad config is refused with file:line:column, key path and rule") {
  CHECK(std::size(bad_cases) >= 40);
  for (const auto& c : bad_cases) {
    std::string title = c.title;
    CAPTURE(title);
    config_tree t;
    add_recipes(t);
    if (c.global != nullptr) t.global(c.global);
    t.vm("app", c.vm);
    std::optional<dvm::config_error> caught;
    try {
      (void)t.load("app");
    } catch (const dvm::config_error& e) {
      caught = e;
    }
    REQUIRE_MESSAGE(caught.has_value(), "no config_error for: " << c.title);
    const dvm::config_error& e = *caught;
    CHECK(e.code() == dvm::errc::config);
    CHECK(e.exit_code() == 2);
    std::filesystem::path expected_file = c.in_global ? t.path() / "config.toml" : t.path() / "vms" / "app.toml";
    CHECK(e.file() == expected_file);
    auto [line, column] = position_of(c.in_global ? c.global : c.vm, c.at);
    if (std::string(c.title) == "TOML syntax error") {
      CHECK(e.line() == 1);  // toml++ points at the end of the line
    } else if (std::string(c.title) == "duplicate key") {
      CHECK(e.line() == 2);
    } else {
      CHECK(e.line() == line);
      CHECK(e.column() == column);
    }
    CHECK(e.key_path() == c.key);
    CHECK_MESSAGE(std::string(e.what()).find(c.rule) != std::string::npos, e.what());
    // The message starts with the location, e.g. ".../vms/app.toml:2:17: ports[1]: ..."
    std::string prefix = expected_file.string() + ":" + std::to_string(e.line()) + ":";
    CHECK_MESSAGE(std::string(e.what()).starts_with(prefix), e.what());
  }
}

TEST_CASE("an out-of-range port names vms/app.toml:LINE:COL") {
  config_tree t;
  t.vm("app", "# my app\nports = [\"3000:3000\",\n  \"9000:70000\"]\n");
  try {
    (void)t.load("app");
    FAIL("no error");
  } catch (const dvm::config_error& e) {
    CHECK(std::string(e.what()).find("vms/app.toml:3:3: ports[1]: guest port 70000 is out of range 1..65535") !=
          std::string::npos);
  }
}

TEST_CASE("defaults of an empty VM file") {
  config_tree t;
  t.vm("app", "");
  dvm::vm_config vm = t.load("app");
  CHECK(vm.name == "app");
  CHECK(vm.instance_name() == "dvm-app");
  CHECK(vm.cpus == 2);
  CHECK(vm.memory_bytes == 2ULL << 30);
  CHECK(vm.disk_bytes == 10ULL << 30);
  CHECK(vm.arch == "default");
  CHECK(vm.vm_type == "qemu");
  CHECK(vm.image == "template:_images/fedora");
  CHECK(vm.user == "alice");
  CHECK(vm.code_dir == "~/code/app");
  CHECK(vm.host_ip == "127.0.0.1");
  CHECK(vm.ports.empty());
  CHECK(vm.baseline);
  CHECK(vm.recipes.empty());
  CHECK(vm.agent_user == "dvm-agent");
  CHECK(vm.secrets.empty());
  CHECK(vm.env.empty());
  CHECK(vm.warnings.empty());
}

TEST_CASE("host-dependent defaults") {
  dvm_test::temp_dir dir;
  dvm_test::write_file(dir.path() / "vms" / "app.toml", "");
  dvm::host_info mac = dvm_test::test_host();
  mac.os = "darwin";
  mac.login_name = "root";
  dvm::vm_config vm = dvm::config_store({dir.path(), dir.path() / "s"}, mac).load("app");
  CHECK(vm.vm_type == "vz");
  CHECK(vm.user == "developer");  // root is never the guest user
  // A foreign arch defaults to qemu on a Mac: vz cannot run it
  // (upstream/pkg/driver/vz/vz_driver_darwin.go:301-303).
  dvm_test::write_file(dir.path() / "vms" / "app.toml", "arch = \"aarch64\"\n");
  CHECK(dvm::config_store({dir.path(), dir.path() / "s"}, mac).load("app").vm_type == "qemu");
  dvm_test::write_file(dir.path() / "vms" / "app.toml", "arch = \"x86_64\"\n");
  CHECK(dvm::config_store({dir.path(), dir.path() / "s"}, mac).load("app").vm_type == "vz");
  dvm_test::write_file(dir.path() / "vms" / "app.toml", "");
  mac.login_name = "Not Valid";
  CHECK(dvm::config_store({dir.path(), dir.path() / "s"}, mac).load("app").user == "developer");
}

TEST_CASE("[defaults] apply key by key and [env] tables merge") {
  config_tree t;
  t.global(R"(
[defaults]
cpus = 4
memory = "8GiB"
user = "bob"
ports = ["8080:80"]
[defaults.env]
COLOR = "blue"
SIZE = 1
)");
  t.vm("app", R"(
memory = "3GiB"
[env]
SIZE = 2
DEBUG = true
)");
  dvm::vm_config vm = t.load("app");
  CHECK(vm.cpus == 4);
  CHECK(vm.memory_bytes == 3ULL << 30);
  CHECK(vm.user == "bob");
  REQUIRE(vm.ports.size() == 1);
  CHECK(vm.ports[0].host_port == 8080);
  CHECK(vm.env == std::vector<std::pair<std::string, std::string>>{{"COLOR", "blue"}, {"DEBUG", "true"}, {"SIZE", "2"}});
}

TEST_CASE("recipe sets expand in place and duplicates keep their first position") {
  config_tree t;
  add_recipes(t);
  t.global("[recipe_sets]\ntools = [\"git\", \"zsh\"]\n");
  t.vm("app", "recipes = [\"zsh\", \"@tools\", \"node\", \"git\", \"baseline\"]\n");
  t.recipe("baseline", "# Description: base\n");
  CHECK(t.load("app").recipes == std::vector<std::string>{"zsh", "git", "node"});
  t.vm("app", "baseline = false\nrecipes = [\"node\", \"baseline\"]\n");
  CHECK(t.load("app").recipes == std::vector<std::string>{"node", "baseline"});
  t.vm("app", "recipes = [\"agent-user\", \"codex\"]\n");
  CHECK(t.load("app").recipes == std::vector<std::string>{"agent-user", "codex"});
}

TEST_CASE("port rules in every form become canonical rules") {
  config_tree t;
  t.vm("app", R"(
host_ip = "10.0.0.5"
ports = ["3000:3000", "127.0.0.1:8080:80", {host = 5353, guest = 53, proto = "udp"}, {host = 9000, guest = 9000, ip = "0.0.0.0"}]
)");
  dvm::vm_config vm = t.load("app");
  REQUIRE(vm.ports.size() == 4);
  CHECK(vm.ports[0] == dvm::port_forward{"10.0.0.5", 3000, 3000, "tcp"});
  CHECK(vm.ports[1] == dvm::port_forward{"127.0.0.1", 8080, 80, "tcp"});
  CHECK(vm.ports[2] == dvm::port_forward{"10.0.0.5", 5353, 53, "udp"});
  CHECK(vm.ports[3] == dvm::port_forward{"0.0.0.0", 9000, 9000, "tcp"});
  // Same host port with another protocol is no conflict.
  t.vm("app", "ports = [\"53:53\", {host = 53, guest = 53, proto = \"udp\"}]\n");
  CHECK(t.load("app").ports.size() == 2);
}

TEST_CASE("code_root and code_dir") {
  config_tree t;
  t.vm("app", "code_root = \"~/work/\"\n");
  CHECK(t.load("app").code_dir == "~/work/app");
  // The plain form reaches the guest.
  t.vm("app", "code_root = \"~//./work//\"\n");
  CHECK(t.load("app").code_dir == "~/work/app");
  t.vm("app", "code_dir = \"//srv/./code/app/.\"\n");
  CHECK(t.load("app").code_dir == "/srv/code/app");
  t.vm("app", "code_root = \"/.\"\n");
  CHECK(t.load("app").code_dir == "/app");
  t.vm("app", "code_dir = \"~/.config/../x\"\n");
  CHECK_THROWS_AS(t.load("app"), dvm::config_error);
  t.vm("app", "code_root = \"/srv\"\ncode_dir = \"/opt/app/src\"\n");
  CHECK(t.load("app").code_dir == "/opt/app/src");
  t.vm("app", "code_dir = \"~/projects/app with spaces\"\n");
  CHECK(t.load("app").code_dir == "~/projects/app with spaces");
}

TEST_CASE("documented public-key settings are not mistaken for secrets") {
  config_tree t;
  t.vm("app", "[env]\nCHEZMOI_SIGNING_KEY = \"~/.ssh/x.pub\"\nCHEZMOI_DEPLOY_KEY = \"~/.ssh/y.pub\"\nPORT = 8080\n");
  dvm::vm_config vm = t.load("app");
  CHECK(vm.env.size() == 3);
}

TEST_CASE("secret words match whole words only where a substring would be a false positive") {
  config_tree t;
  t.vm("app", "[env]\nPATH_PREFIX = \"/opt\"\nCOMPASS = 1\nPATTERN = \"*\"\nCLAUDE_BYPASS = false\n"
              "SPATIAL = true\nPASSENGERS = 2\n");
  CHECK(t.load("app").env.size() == 6);
}

TEST_CASE("every [env] key the bundled templates and recipes document passes the secret rule") {
  std::set<std::string> keys;
  // Recipes: `dvm_setting KEY`, `dvm_setting_bool KEY`, ... and the PIN_<NAME>_URL/SHA256 pairs.
  std::regex setting(R"(dvm_setting[a-z_]*\s+"?([A-Z][A-Z0-9_]*))");
  std::regex pinned(R"(dvm_pinned_install\s+([a-z0-9-]+))");
  dvm::recipe_catalog catalog;
  for (const auto& r : catalog.all()) {
    for (std::sregex_iterator it(r.text.begin(), r.text.end(), setting), end; it != end; ++it) {
      if ((*it)[1] != "KEY") keys.insert((*it)[1]);  // the helper's own usage text
    }
    for (std::sregex_iterator it(r.text.begin(), r.text.end(), pinned), end; it != end; ++it) {
      std::string name = (*it)[1];
      for (auto& c : name) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      keys.insert("PIN_" + name + "_URL");
      keys.insert("PIN_" + name + "_SHA256");
    }
  }
  // Templates: every key of their [env] tables, commented out or not.
  dvm_test::temp_dir dir;
  dvm::client_options o;
  o.environment = std::map<std::string, std::string>{};
  o.config_dir = dir.path() / "config";
  o.state_dir = dir.path() / "state";
  o.host = dvm_test::test_host();
  dvm::client c(o);
  std::regex env_line(R"(^#? ?([A-Z][A-Z0-9_]*) = )");
  for (const auto& name : dvm::init_template_names()) {
    std::string text = dvm_test::read_file(c.init_config("t-" + name, name).path);
    std::istringstream lines(text.substr(text.find("[env]")));
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_search(line, m, env_line)) keys.insert(m[1]);
    }
  }
  CHECK(keys.size() >= 20);
  CHECK(keys.count("CLAUDE_BYPASS") == 1);
  CHECK(keys.count("PIN_LAZYGIT_SHA256") == 1);
  config_tree t;
  for (const auto& key : keys) {
    CAPTURE(key);
    t.vm("app", "[env]\n" + key + " = \"x\"\n");
    CHECK_NOTHROW((void)t.load("app"));
  }
}

TEST_CASE("more CPUs than the host has is a warning, not an error") {
  config_tree t;
  t.vm("app", "cpus = 12\n");
  dvm::vm_config vm = t.load("app");
  CHECK(vm.cpus == 12);
  REQUIRE(vm.warnings.size() == 1);
  CHECK(vm.warnings[0].find("more than the 8 CPUs") != std::string::npos);
}

TEST_CASE("missing and misnamed VM files") {
  config_tree t;
  t.vm("app", "");
  t.vm("Bad_Name", "");
  t.vm("zeta", "");
  dvm::config_store store = t.store();
  CHECK(store.vm_names() == std::vector<std::string>{"app", "zeta"});
  CHECK(store.has_vm("app"));
  CHECK_FALSE(store.has_vm("nope"));
  try {
    (void)store.load("nope");
    FAIL("no error");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::not_found);
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("dvm init nope") != std::string::npos);
  }
}

TEST_CASE("user recipes: override, description line, invalid names") {
  config_tree t;
  t.recipe("mine", "# Description: my tool\necho hi\n");
  t.recipe("git", "# Description: my git\n");
  dvm::config_store store = t.store();
  const dvm::recipe_catalog& catalog = store.recipes();
  const dvm::recipe* mine = catalog.find("mine");
  REQUIRE(mine != nullptr);
  CHECK(mine->description == "my tool");
  CHECK_FALSE(mine->bundled);
  const dvm::recipe* git = catalog.find("git");
  REQUIRE(git != nullptr);
  CHECK(git->shadows_bundled);
  CHECK(git->description == "my git");

  config_tree bad;
  bad.recipe("nodesc", "echo no description\n");
  bad.vm("app", "");
  try {
    (void)bad.load("app");
    FAIL("no error");
  } catch (const dvm::config_error& e) {
    CHECK(e.line() == 1);
    CHECK(std::string(e.what()).find("# Description:") != std::string::npos);
  }
  config_tree worse;
  worse.recipe("Bad Name", "# Description: x\n");
  worse.vm("app", "");
  CHECK_THROWS_AS((void)worse.load("app"), dvm::config_error);
}

TEST_CASE("VM names") {
  CHECK(dvm::is_valid_vm_name("app"));
  CHECK(dvm::is_valid_vm_name("a1-b2"));
  CHECK(dvm::is_valid_vm_name(std::string(30, 'a')));
  CHECK_FALSE(dvm::is_valid_vm_name(std::string(31, 'a')));
  CHECK_FALSE(dvm::is_valid_vm_name(""));
  CHECK_FALSE(dvm::is_valid_vm_name("1app"));
  CHECK_FALSE(dvm::is_valid_vm_name("-app"));
  CHECK_FALSE(dvm::is_valid_vm_name("app-"));
  CHECK_FALSE(dvm::is_valid_vm_name("App"));
  CHECK_FALSE(dvm::is_valid_vm_name("my_app"));
  CHECK_FALSE(dvm::is_valid_vm_name("a.b"));
  CHECK_FALSE(dvm::is_valid_vm_name("a b"));
  CHECK(dvm::normalize_vm_name("dvm-app") == "app");
  CHECK(dvm::normalize_vm_name("app") == "app");
  CHECK(dvm::normalize_vm_name("dvm-dvm-x") == "dvm-x");
  CHECK_THROWS_AS(dvm::normalize_vm_name("dvm-"), dvm::error);
  CHECK_THROWS_AS(dvm::normalize_vm_name("../etc"), dvm::error);
  try {
    dvm::normalize_vm_name("Bad");
  } catch (const dvm::error& e) {
    CHECK(e.code() == dvm::errc::usage);
  }
}

TEST_CASE("user names") {
  CHECK(dvm::is_valid_user_name("alice"));
  CHECK(dvm::is_valid_user_name("_svc"));
  CHECK(dvm::is_valid_user_name("dvm-agent"));
  CHECK_FALSE(dvm::is_valid_user_name("Alice"));
  CHECK_FALSE(dvm::is_valid_user_name("1x"));
  CHECK_FALSE(dvm::is_valid_user_name("root:bad"));
  CHECK_FALSE(dvm::is_valid_user_name(std::string(33, 'a')));
}

TEST_CASE("sizes") {
  CHECK(dvm::parse_size("2GiB") == 2ULL << 30);
  CHECK(dvm::parse_size("2G") == 2ULL << 30);
  CHECK(dvm::parse_size("512MiB") == 512ULL << 20);
  CHECK(dvm::parse_size("1.5GiB") == 3ULL << 29);
  CHECK(dvm::parse_size("1TiB") == 1ULL << 40);
  CHECK(dvm::parse_size("4K") == 4096);
  CHECK(dvm::parse_size("1000") == 1000);
  CHECK(dvm::parse_size("0.5KiB") == 512);
  CHECK_THROWS(dvm::parse_size(""));
  CHECK_THROWS(dvm::parse_size("0"));
  CHECK_THROWS(dvm::parse_size("-1G"));
  CHECK_THROWS(dvm::parse_size("1 GiB"));
  CHECK_THROWS(dvm::parse_size("1gib"));
  CHECK_THROWS(dvm::parse_size("1.GiB"));
  CHECK_THROWS(dvm::parse_size("1.0000000001GiB"));
  CHECK_THROWS(dvm::parse_size("0.1"));
  CHECK_THROWS(dvm::parse_size("99999999999999999999"));
  CHECK_THROWS(dvm::parse_size("16777216TiB"));
  CHECK(dvm::parse_size("16777215TiB") == 16777215ULL << 40);
  CHECK(dvm::format_size(2ULL << 30) == "2GiB");
  CHECK(dvm::format_size(1536ULL << 20) == "1536MiB");
  CHECK(dvm::format_size(1ULL << 40) == "1TiB");
  CHECK(dvm::format_size(1000) == "1000");
  CHECK(dvm::format_size(4096) == "4KiB");
  for (const char* text : {"3GiB", "1.25GiB", "100M", "7T", "12345"}) {
    CHECK(dvm::parse_size(dvm::format_size(dvm::parse_size(text))) == dvm::parse_size(text));
  }
}

TEST_CASE("port rule strings") {
  CHECK(dvm::parse_port_forward("3000:3000", "127.0.0.1") == dvm::port_forward{"127.0.0.1", 3000, 3000, "tcp"});
  CHECK(dvm::parse_port_forward("0.0.0.0:80:8080", "127.0.0.1") == dvm::port_forward{"0.0.0.0", 80, 8080, "tcp"});
  CHECK(dvm::parse_port_forward("1:65535", "10.1.2.3").guest_port == 65535);
  for (const char* bad : {"3000", "a:b", ":3000", "3000:", "1:2:3:4", "3000:3000:", "65536:1", "1:0",
                          "01:1", "1.2.3:1:1", "256.0.0.1:1:1", "1.2.3.04:1:1", " 1:1", "1:1 "}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(dvm::parse_port_forward(bad, "127.0.0.1"), dvm::error);
  }
  CHECK(dvm::is_ipv4_literal("0.0.0.0"));
  CHECK(dvm::is_ipv4_literal("255.255.255.255"));
  CHECK_FALSE(dvm::is_ipv4_literal("1.2.3"));
  CHECK_FALSE(dvm::is_ipv4_literal("1.2.3.4.5"));
  CHECK_FALSE(dvm::is_ipv4_literal("::1"));
  CHECK_FALSE(dvm::is_ipv4_literal("01.2.3.4"));
  CHECK_FALSE(dvm::is_ipv4_literal(""));
  CHECK(dvm::to_string(dvm::port_forward{"127.0.0.1", 8080, 80, "tcp"}) == "127.0.0.1:8080->80/tcp");
}

TEST_CASE("port rule diff") {
  dvm::port_forward a{"127.0.0.1", 3000, 3000, "tcp"};
  dvm::port_forward b{"127.0.0.1", 4000, 4000, "tcp"};
  dvm::port_forward c{"0.0.0.0", 5000, 5000, "tcp"};
  auto d = dvm::diff({a, b}, {b, c});
  CHECK(d.added == std::vector<dvm::port_forward>{c});
  CHECK(d.removed == std::vector<dvm::port_forward>{a});
  CHECK(dvm::diff({a, b}, {b, a}).empty());
  CHECK(dvm::host_bindings_conflict(a, dvm::port_forward{"0.0.0.0", 3000, 1, "tcp"}));
  CHECK_FALSE(dvm::host_bindings_conflict(a, dvm::port_forward{"10.0.0.1", 3000, 1, "tcp"}));
  CHECK_FALSE(dvm::host_bindings_conflict(a, dvm::port_forward{"127.0.0.1", 3000, 1, "udp"}));
}

TEST_CASE("config and state directories follow DVM_CONFIG, XDG and HOME") {
  auto p = dvm::resolve_paths({{"HOME", "/home/u"}});
  CHECK(p.config_dir == "/home/u/.config/dvm");
  CHECK(p.state_dir == "/home/u/.local/state/dvm");
  p = dvm::resolve_paths({{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "/x/cfg"}, {"XDG_STATE_HOME", "/x/st"}});
  CHECK(p.config_dir == "/x/cfg/dvm");
  CHECK(p.state_dir == "/x/st/dvm");
  p = dvm::resolve_paths({{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "/x"}, {"DVM_CONFIG", "/c"}, {"DVM_STATE", "/s"}});
  CHECK(p.config_dir == "/c");
  CHECK(p.state_dir == "/s");
  // A relative XDG value is invalid (XDG spec) and ignored.
  p = dvm::resolve_paths({{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "cfg"}, {"XDG_STATE_HOME", "./st"}});
  CHECK(p.config_dir == "/home/u/.config/dvm");
  CHECK(p.state_dir == "/home/u/.local/state/dvm");
  CHECK_THROWS_AS(dvm::resolve_paths({}), dvm::error);
}

// --- recipe header lines (# Requires:, # Service:, # Secret:) ---------------------------------

TEST_CASE("every bundled recipe header parses, and only the documented recipes declare facts") {
  dvm::recipe_catalog catalog;  // throws config_error when a bundled header is malformed
  std::map<std::string, std::vector<std::string>> requires_by;
  std::map<std::string, std::string> services;
  std::map<std::string, std::string> secrets;
  for (const auto& r : catalog.all()) {
    if (!r.requires_recipes.empty()) requires_by[r.name] = r.requires_recipes;
    if (r.service) services[r.name] = r.service->unit + " env=" + r.service->env_key;
    for (const auto& s : r.secrets) {
      secrets[r.name] += s.name + " alias=" + s.alias + " prefix=" + s.prefix +
                         (s.token_charset ? " charset=token" : "") + ";";
    }
  }
  const std::vector<std::string> agent{"agent-user"};
  CHECK(requires_by == std::map<std::string, std::vector<std::string>>{
                           {"claude", agent}, {"codex", agent}, {"mistral", agent}, {"opencode", agent}});
  CHECK(services == std::map<std::string, std::string>{
                        {"cloudflared", "dvm-cloudflared.service env=CLOUDFLARED_SERVICE"},
                        {"llama", "dvm-llama.service env=LLAMA_SERVICE"},
                        {"tailscale", "tailscaled.service env="}});
  CHECK(secrets == std::map<std::string, std::string>{
                       {"cloudflared", "CLOUDFLARED_TOKEN alias=DVM_CLOUDFLARED_TOKEN prefix= charset=token;"},
                       {"tailscale", "TAILSCALE_AUTH_KEY alias=DVM_TAILSCALE_AUTH_KEY prefix=tskey- charset=token;"}});
  CHECK(catalog.find(dvm::baseline_recipe) != nullptr);
}

TEST_CASE("a user recipe's header lines become its facts; prose and lines after the header do not") {
  config_tree t;
  t.recipe("web", "# Description: web\n"
                  "#\n"
                  "# Requires: node  git\n"
                  "# Service: web-app@1.service env=WEB_SERVICE\n"
                  "# Secret: WEB_TOKEN prefix=ab- charset=token alias=DVM_WEB_TOKEN\n"
                  "# Secret: OTHER_KEY\n"
                  "# Release: https://example.org (not a fact: prose)\n"
                  "# Secret WEB_TOKEN is read from its staged file (prose: no colon after the word)\n"
                  "echo hi\n"
                  "# Requires: zsh (after the header: a comment in the code)\n");
  t.recipe("node", "# Description: n\n");
  t.recipe("git", "# Description: g\n");
  dvm::config_store store = t.store();
  const dvm::recipe* web = store.recipes().find("web");
  REQUIRE(web != nullptr);
  CHECK(web->requires_recipes == std::vector<std::string>{"node", "git"});
  REQUIRE(web->service);
  CHECK(web->service->unit == "web-app@1.service");
  CHECK(web->service->env_key == "WEB_SERVICE");
  REQUIRE(web->secrets.size() == 2);
  CHECK(web->secrets[0].name == "WEB_TOKEN");
  CHECK(web->secrets[0].alias == "DVM_WEB_TOKEN");
  CHECK(web->secrets[0].prefix == "ab-");
  CHECK(web->secrets[0].token_charset);
  CHECK(web->secrets[1].name == "OTHER_KEY");
  CHECK(web->secrets[1].alias.empty());
  CHECK(web->secrets[1].prefix.empty());
  CHECK_FALSE(web->secrets[1].token_charset);
  CHECK(store.recipes().find("node")->requires_recipes.empty());
  CHECK_FALSE(store.recipes().find("node")->service);
}

TEST_CASE("a user recipe that overrides a bundled one keeps its facts only without fact lines of its own") {
  config_tree t;
  t.recipe("tailscale", "# Description: patched\n:\n");
  t.recipe("llama", "# Description: mine\n# Service: my-llama.service\n:\n");
  t.recipe("codex", "# Description: mine\n# Requires: git\n");
  dvm::config_store store = t.store();
  const dvm::recipe* ts = store.recipes().find("tailscale");
  REQUIRE(ts != nullptr);
  REQUIRE(ts->service);
  CHECK(ts->service->unit == "tailscaled.service");
  REQUIRE(ts->secrets.size() == 1);
  CHECK(ts->secrets[0].prefix == "tskey-");
  const dvm::recipe* llama = store.recipes().find("llama");
  REQUIRE(llama->service);
  CHECK(llama->service->unit == "my-llama.service");
  CHECK(llama->service->env_key.empty());
  CHECK(store.recipes().find("codex")->requires_recipes == std::vector<std::string>{"git"});
}

TEST_CASE("a malformed header line in a user recipe is a config error naming the file and line") {
  struct header_case {
    const char* header;  // lines after the Description line
    int line;
    const char* rule;
  };
  const header_case cases[] = {
      {"# Secrets: X_TOKEN\n", 2, "is not a header key"},
      {"#\n# requires: git\n", 3, "is not a header key"},
      {"# Description: again\n", 2, "first line only"},
      {"# Service : x.service\n", 2, "without blanks before the colon"},
      {"#Service: x.service\n", 2, "is not a header key"},
      {"# Requires:\n", 2, "needs a value"},
      {"# Requires: Git\n", 2, "\"Git\" is not a recipe name"},
      {"# Requires: mine\n", 2, "cannot require itself"},
      {"# Requires: git git\n", 2, "required twice"},
      {"# Requires: nosuch\n", 2, "\"nosuch\", which is not a recipe"},
      {"# Service: x.socket\n", 2, "\"x.socket\" is not a systemd service name"},
      {"# Service: ../x.service\n", 2, "is not a systemd service name"},
      {"# Service: -x.service\n", 2, "is not a systemd service name"},
      {"# Service: x.service env=lower\n", 2, "env=lower is not an [env] key"},
      {"# Service: x.service user=root\n", 2, "unknown option \"user=root\""},
      {"# Service: x.service env=A env=B\n", 2, "option env= is given twice"},
      {"# Service: a.service\n# Service: b.service\n", 3, "at most one"},
      {"# Secret: my_token\n", 2, "\"my_token\" is not a valid secret name"},
      {"# Secret: 1TOKEN\n", 2, "is not a valid secret name"},
      {"# Secret: X_TOKEN charset=base64\n", 2, "unknown charset=base64"},
      {"# Secret: X_TOKEN prefix=\n", 2, "prefix= must be non-empty"},
      {"# Secret: X_TOKEN prefix=a\"b\n", 2, "prefix= must be non-empty"},
      {"# Secret: X_TOKEN alias=X_TOKEN\n", 2, "is not another variable name"},
      {"# Secret: X_TOKEN alias=bad-name\n", 2, "is not another variable name"},
      {"# Secret: X_TOKEN mode=0600\n", 2, "unknown option \"mode=0600\""},
      {"# Secret: X_TOKEN\n#\n# Secret: X_TOKEN\n", 4, "declared twice"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header);
    config_tree t;
    t.recipe("git", "# Description: g\n");
    t.recipe("mine", std::string("# Description: mine\n") + c.header + "echo hi\n");
    t.vm("app", "");
    try {
      (void)t.load("app");
      FAIL("no error");
    } catch (const dvm::config_error& e) {
      CHECK(e.file() == t.path() / "recipes" / "mine.sh");
      CHECK(e.line() == c.line);
      CHECK(e.exit_code() == 2);
      CHECK_MESSAGE(e.rule().find(c.rule) != std::string::npos, e.rule());
      CHECK(std::string(e.what()).find("mine.sh:" + std::to_string(c.line)) != std::string::npos);
    }
  }
}

TEST_CASE("# Requires: is checked against the VM's recipe list, where it names the entry") {
  config_tree t;
  t.recipe("helper", "# Description: h\n");
  t.recipe("tool", "# Description: t\n# Requires: helper\n");
  t.recipe("base-user", "# Description: b\n# Requires: baseline\n");
  t.recipe("baseline", "# Description: b\n");
  t.vm("app", "recipes = [\"tool\", \"helper\"]\n");
  try {
    (void)t.load("app");
    FAIL("no error");
  } catch (const dvm::config_error& e) {
    CHECK(e.file() == t.path() / "vms" / "app.toml");
    CHECK(e.line() == 1);
    CHECK(e.column() == 12);
    CHECK(e.key_path() == "recipes[0]");
    CHECK(e.rule() == "recipe \"tool\" needs \"helper\" earlier in the list (its header says \"# Requires: helper\")");
  }
  t.vm("app", "recipes = [\"helper\", \"tool\"]\n");
  CHECK(t.load("app").recipes == std::vector<std::string>{"helper", "tool"});
  // The baseline runs first, so it counts as earlier unless it is turned off.
  t.vm("app", "recipes = [\"base-user\"]\n");
  CHECK_NOTHROW((void)t.load("app"));
  t.vm("app", "baseline = false\nrecipes = [\"base-user\"]\n");
  CHECK_THROWS_WITH_AS((void)t.load("app"), doctest::Contains("needs \"baseline\" earlier"), dvm::config_error);
}
