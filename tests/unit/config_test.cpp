// Config loading and validation: defaults, merge rules, recipe sets, and every refusal with its
// file:line:column, key path and rule.
#include <doctest/doctest.h>

#include <dvm/client.hpp>
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "test_support.hpp"

#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

using dvm_test::config_tree;

namespace {

// Line and column (1-based) of the first occurrence of `needle` in `text`.
std::pair<int, int> position_of(const std::string& text, const std::string& needle) {
  std::size_t at = text.find(needle);
  REQUIRE_MESSAGE(at != std::string::npos, "test bug: \"" << needle << "\" is not in the text");
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

struct bad_case {
  const char* title;
  const char* vm;          // vms/app.toml
  const char* global;      // config.toml, or nullptr
  const char* at;          // the text the error must point at (in the file that has it)
  bool in_global;          // the error is in config.toml
  const char* key;         // expected key path ("" for none)
  const char* rule;        // a phrase the rule must contain
};

// Recipes the cases refer to, as user recipes so the test does not depend on bundled ones.
void add_recipes(config_tree& t) {
  for (const char* r : {"node", "git", "zsh", "agent-user", "codex"}) {
    t.recipe(r, std::string("# Description: test recipe ") + r + "\n");
  }
}

const bad_case bad_cases[] = {
    {"cpus as a string", "cpus = \"2\"\n", nullptr, "\"2\"", false, "cpus", "expected an integer, found a string"},
    {"zero cpus", "cpus = 0\n", nullptr, "0", false, "cpus", "out of range 1..1024"},
    {"too many cpus", "cpus = 2000\n", nullptr, "2000", false, "cpus", "out of range 1..1024"},
    {"memory as an integer", "memory = 2\n", nullptr, "2", false, "memory", "expected a string"},
    {"unknown size unit", "memory = \"2XB\"\n", nullptr, "\"2XB\"", false, "memory", "unknown unit \"XB\""},
    {"zero memory", "memory = \"0GiB\"\n", nullptr, "\"0GiB\"", false, "memory", "greater than zero"},
    {"size without number", "memory = \"GiB\"\n", nullptr, "\"GiB\"", false, "memory", "expected a number"},
    {"fractional bytes", "disk = \"1.3\"\n", nullptr, "\"1.3\"", false, "disk", "not a whole number of bytes"},
    {"size with leading zero", "disk = \"007GiB\"\n", nullptr, "\"007GiB\"", false, "disk", "leading zeros"},
    {"unknown arch", "arch = \"arm64\"\n", nullptr, "\"arm64\"", false, "arch", "must be \"default\", \"x86_64\" or \"aarch64\""},
    {"unknown vm_type", "vm_type = \"hyperv\"\n", nullptr, "\"hyperv\"", false, "vm_type", "must be \"vz\" or \"qemu\""},
    {"empty image", "image = \"\"\n", nullptr, "\"\"", false, "image", "must not be empty"},
    {"image not a locator", "image = \"fedora\"\n", nullptr, "\"fedora\"", false, "image", "not a Lima template locator"},
    {"user with capitals", "user = \"Alice\"\n", nullptr, "\"Alice\"", false, "user", "not a valid Linux user name"},
    {"user root", "user = \"root\"\n", nullptr, "\"root\"", false, "user", "must not be root"},
    {"user too long", "user = \"abcdefghijabcdefghijabcdefghijabc\"\n", nullptr, "\"abc", false, "user", "at most 32 characters"},
    {"agent user equal to user", "user = \"bob\"\nagent_user = 'bob'\n", nullptr, "'bob'", false, "agent_user", "must differ from the guest user"},
    {"relative code_dir", "code_dir = \"code/app\"\n", nullptr, "\"code/app\"", false, "code_dir", "must be an absolute guest path or start with \"~/\""},
    {"dollar in code_dir", "code_dir = \"~/a$b\"\n", nullptr, "\"~/a$b\"", false, "code_dir", "must not contain '$'"},
    {"quote in code_dir", "code_dir = '~/a\"b'\n", nullptr, "'~/a", false, "code_dir", "must not contain '\"'"},
    {"backtick in code_dir", "code_dir = \"~/a`id`\"\n", nullptr, "\"~/a`", false, "code_dir", "must not contain '`'"},
    {"backslash in code_dir", "code_dir = '~/a\\b'\n", nullptr, "'~/a", false, "code_dir", "must not contain a backslash"},
    {"newline in code_dir", "code_dir = \"~/a\\nb\"\n", nullptr, "\"~/a", false, "code_dir", "control characters"},
    {"dot-dot in code_dir", "code_dir = \"~/../etc\"\n", nullptr, "\"~/../etc\"", false, "code_dir", "must not contain \"..\""},
    {"code_dir is the home", "code_dir = \"~\"\n", nullptr, "\"~\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir contains the home", "code_dir = \"/home\"\n", nullptr, "\"/home\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir in /etc", "code_dir = \"/etc/app\"\n", nullptr, "\"/etc/app\"", false, "code_dir", "lies in a system directory"},
    {"template braces in code_dir", "code_dir = \"~/x{{.Name}}\"\n", nullptr, "\"~/x{", false, "code_dir", "must not contain '{'"},
    {"relative code_root", "code_root = \"work\"\n", nullptr, "\"work\"", false, "code_root", "must be an absolute guest path"},
    // Other spellings of the same directories meet the same rules (issue 10: normalised first).
    {"code_dir ~/.", "code_dir = \"~/.\"\n", nullptr, "\"~/.\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir ~//", "code_dir = \"~//\"\n", nullptr, "\"~//\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir ~/./", "code_dir = \"~/./\"\n", nullptr, "\"~/./\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir //home", "code_dir = \"//home\"\n", nullptr, "\"//home\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir /home/./alice/", "code_dir = \"/home/./alice/\"\n", nullptr, "\"/home/./alice/\"", false, "code_dir", "is the guest home or contains it"},
    {"code_dir /./etc", "code_dir = \"/./etc\"\n", nullptr, "\"/./etc\"", false, "code_dir", "is a system directory"},
    {"code_dir /.", "code_dir = \"/.\"\n", nullptr, "\"/.\"", false, "code_dir", "\"/\" is a system directory"},
    {"code_dir //etc//app", "code_dir = \"//etc//app\"\n", nullptr, "\"//etc//app\"", false, "code_dir", "\"/etc/app\" lies in a system directory"},
    {"code_dir /home/../etc", "code_dir = \"/home/../etc\"\n", nullptr, "\"/home/../etc\"", false, "code_dir", "must not contain \"..\""},
    {"code_root //home", "code_root = \"//home\"\nuser = \"app\"\n", nullptr, "\"//home\"", false, "code_root", "is the guest home or contains it"},
    {"code_dir in the agent's home", "code_dir = \"/home/dvm-agent/app\"\n", nullptr, "\"/home/dvm-agent/app\"", false, "code_dir", "lies in the agent user's home /home/dvm-agent"},
    {"code_dir is the agent's home", "agent_user = \"bot\"\ncode_dir = \"//home/bot/.\"\n", nullptr, "\"//home/bot/.\"", false, "code_dir", "lies in the agent user's home /home/bot"},
    {"code_dir in /tmp", "code_dir = \"/tmp/app\"\n", nullptr, "\"/tmp/app\"", false, "code_dir", "lies in /tmp, which every user can write to"},
    {"code_root in /var/tmp", "code_root = \"/var/./tmp\"\n", nullptr, "\"/var/./tmp\"", false, "code_root", "lies in /var/tmp, which every user can write to"},
    {"ports not an array", "ports = \"3000:3000\"\n", nullptr, "\"3000:3000\"", false, "ports", "expected an array of port rules"},
    {"port rule without guest", "ports = [\"3000\"]\n", nullptr, "\"3000\"", false, "ports[0]", "is not a port rule"},
    {"guest port out of range", "cpus = 2\nports = [\"3000:3000\", \"8000:70000\"]\n", nullptr, "\"8000:70000\"", false, "ports[1]", "guest port 70000 is out of range 1..65535"},
    {"host port zero", "ports = [\"0:3000\"]\n", nullptr, "\"0:3000\"", false, "ports[0]", "host port 0 is out of range 1..65535"},
    {"port with leading zero", "ports = [\"03000:3000\"]\n", nullptr, "\"03000:3000\"", false, "ports[0]", "has a leading zero"},
    {"port not a number", "ports = [\"http:80\"]\n", nullptr, "\"http:80\"", false, "ports[0]", "is not a number"},
    {"bad IPv4 in port rule", "ports = [\"999.1.1.1:3000:3000\"]\n", nullptr, "\"999.1.1.1", false, "ports[0]", "not an IPv4 literal"},
    {"forwarding the ssh port", "ports = [\"2222:22\"]\n", nullptr, "\"2222:22\"", false, "ports[0]", "guest port 22"},
    // Lima refuses 22 in every port field (upstream/pkg/limayaml/validate.go:651-659).
    {"host port 22", "ports = [\"22:8080\"]\n", nullptr, "\"22:8080\"", false, "ports[0]", "host port 22 is refused"},
    {"host port 22 in a table", "ports = [{host = 22, guest = 8080}]\n", nullptr, "22,", false, "ports[0].host", "host port 22"},
    // Lima uses the first rule for a guest port (upstream/pkg/portfwd/forward.go:100-131).
    {"two rules for one guest port", "ports = [\"3000:3000\", \"0.0.0.0:8080:3000\"]\n", nullptr, "\"0.0.0.0:8080:3000\"", false, "ports[1]", "guest port 3000/tcp is already forwarded by ports[0]"},
    {"vz with a foreign arch", "arch = \"aarch64\"\nvm_type = \"vz\"\n", nullptr, "\"vz\"", false, "vm_type", "runs only this host's architecture (x86_64)"},
    {"template braces in image", "image = \"template:{{.Name}}\"\n", nullptr, "\"template:", false, "image", "braces"},
    {"secret-looking [lima] pass_env", "", "[lima]\npass_env = [\"GITHUB_TOKEN\"]\n", "\"GITHUB_TOKEN\"", true, "lima.pass_env[0]", "looks like a secret"},
    {"bad name in [lima] pass_env", "", "[lima]\npass_env = [\"http-proxy\"]\n", "\"http-proxy\"", true, "lima.pass_env[0]", "not an environment variable name"},
    {"unknown key under [lima]", "", "[lima]\npassenv = []\n", "passenv", true, "lima.passenv", "did you mean \"pass_env\""},
    {"two rules on one host port", "ports = [\"3000:3000\", \"3000:4000\"]\n", nullptr, "\"3000:4000\"", false, "ports[1]", "conflicts with ports[0]"},
    {"0.0.0.0 overlaps loopback", "ports = [\"0.0.0.0:3000:3000\", \"127.0.0.1:3000:4000\"]\n", nullptr, "\"127.0.0.1:3000:4000\"", false, "ports[1]", "conflicts with ports[0]"},
    {"table rule without guest", "ports = [{host = 3000}]\n", nullptr, "{host", false, "ports[0]", "needs guest = <port>"},
    {"table rule unknown key", "ports = [{host = 3000, guest = 3000, prot = \"tcp\"}]\n", nullptr, "prot =", false, "ports[0].prot", "did you mean \"proto\""},
    {"table rule bad proto", "ports = [{host = 3000, guest = 3000, proto = \"sctp\"}]\n", nullptr, "\"sctp\"", false, "ports[0].proto", "must be \"tcp\" or \"udp\""},
    {"table rule port out of range", "ports = [{host = 3000, guest = 65536}]\n", nullptr, "65536", false, "ports[0].guest", "out of range"},
    {"port rule as a number", "ports = [3000]\n", nullptr, "3000]", false, "ports[0]", "expected a string such as"},
    {"host_ip not IPv4", "host_ip = \"localhost\"\n", nullptr, "\"localhost\"", false, "host_ip", "not an IPv4 literal"},
    {"baseline as a string", "baseline = \"yes\"\n", nullptr, "\"yes\"", false, "baseline", "expected a boolean"},
    {"unknown recipe", "recipes = [\"git\", \"nde\"]\n", nullptr, "\"nde\"", false, "recipes[1]", "unknown recipe \"nde\" (did you mean \"node\"?)"},
    {"recipe name with capitals", "recipes = [\"Node\"]\n", nullptr, "\"Node\"", false, "recipes[0]", "is not a recipe name"},
    {"unknown recipe set", "recipes = [\"@tols\"]\n", "[recipe_sets]\ntools = [\"git\"]\n", "\"@tols\"", false, "recipes[0]", "unknown recipe set \"@tols\" (did you mean \"@tools\"?)"},
    {"AI recipe before agent-user", "recipes = [\"codex\", \"agent-user\"]\n", nullptr, "\"codex\"", false, "recipes[0]", "needs \"agent-user\" earlier"},
    {"secret with lower case", "secrets = [\"github_token\"]\n", nullptr, "\"github_token\"", false, "secrets[0]", "not an environment variable name"},
    {"secret listed twice", "secrets = [\"A_TOKEN\", \"A_TOKEN\"]\n", nullptr, "\"A_TOKEN\"]", false, "secrets[1]", "listed twice"},
    {"secret in env", "[env]\nGITHUB_TOKEN = \"ghp_x\"\n", nullptr, "GITHUB_TOKEN", false, "env.GITHUB_TOKEN", "secrets = [\"GITHUB_TOKEN\"]"},
    {"password in env", "[env]\nDB_PASSWORD = \"x\"\n", nullptr, "DB_PASSWORD", false, "env.DB_PASSWORD", "looks like a secret"},
    {"PASS word in env", "[env]\nDB_PASS = \"x\"\n", nullptr, "DB_PASS", false, "env.DB_PASS", "looks like a secret"},
    {"PASS alone in env", "[env]\nPASS = \"x\"\n", nullptr, "PASS", false, "env.PASS", "looks like a secret"},
    {"PAT word in env", "[env]\nGITHUB_PAT = \"x\"\n", nullptr, "GITHUB_PAT", false, "env.GITHUB_PAT", "secrets = [\"GITHUB_PAT\"]"},
    {"PAT first word in env", "[env]\nPAT_GITLAB = \"x\"\n", nullptr, "PAT_GITLAB", false, "env.PAT_GITLAB", "looks like a secret"},
    {"PASSWD in env", "[env]\nMYSQL_PASSWD = \"x\"\n", nullptr, "MYSQL_PASSWD", false, "env.MYSQL_PASSWD", "looks like a secret"},
    {"PASSPHRASE in env", "[env]\nGPG_PASSPHRASE = \"x\"\n", nullptr, "GPG_PASSPHRASE", false, "env.GPG_PASSPHRASE", "looks like a secret"},
    {"CREDENTIALS in env", "[env]\nAWS_CREDENTIALS = \"x\"\n", nullptr, "AWS_CREDENTIALS", false, "env.AWS_CREDENTIALS", "looks like a secret"},
    {"PRIVATE in env", "[env]\nSIGNING_PRIVATE = \"x\"\n", nullptr, "SIGNING_PRIVATE", false, "env.SIGNING_PRIVATE", "looks like a secret"},
    {"COOKIE in env", "[env]\nCOOKIE_JAR = \"x\"\n", nullptr, "COOKIE_JAR", false, "env.COOKIE_JAR", "looks like a secret"},
    {"SESSION in env", "[env]\nBW_SESSION = \"x\"\n", nullptr, "BW_SESSION", false, "env.BW_SESSION", "looks like a secret"},
    {"secret-looking key under [defaults]", "", "[defaults.env]\nNPM_PAT = \"x\"\n", "NPM_PAT", true, "defaults.env.NPM_PAT", "looks like a secret"},
    {"lower-case env key", "[env]\nfoo = \"x\"\n", nullptr, "foo", false, "env.foo", "[A-Z][A-Z0-9_]*"},
    {"float in env", "[env]\nRATIO = 1.5\n", nullptr, "1.5", false, "env.RATIO", "expected a string, an integer or a boolean"},
    {"reserved env key", "[env]\nNAME = \"x\"\n", nullptr, "NAME", false, "env.NAME", "is reserved"},
    {"env not a table", "env = \"x\"\n", nullptr, "\"x\"", false, "env", "expected a table"},
    {"typo in a key", "memroy = \"2GiB\"\n", nullptr, "memroy", false, "memroy", "unknown key \"memroy\" in a VM file (did you mean \"memory\"?)"},
    {"name key", "name = \"app\"\n", nullptr, "name", false, "name", "a VM's name is its file name"},
    {"VM key at the top of config.toml", "", "cpus = 4\n", "cpus", true, "cpus", "per-VM settings go under [defaults]"},
    {"typo under [defaults]", "", "[defaults]\ncpu = 4\n", "cpu", true, "defaults.cpu", "did you mean \"cpus\""},
    {"bad value under [defaults]", "", "[defaults]\nmemory = \"0\"\n", "\"0\"", true, "defaults.memory", "greater than zero"},
    {"unknown recipe in a set", "", "[recipe_sets]\ntools = [\"git\", \"nope\"]\n", "\"nope\"", true, "recipe_sets.tools[1]", "unknown recipe \"nope\""},
    {"set inside a set", "", "[recipe_sets]\ntools = [\"@base\"]\n", "\"@base\"", true, "recipe_sets.tools[0]", "cannot contain other sets"},
    {"TOML syntax error", "cpus = \n", nullptr, "\n", false, "", "TOML syntax error"},
    {"duplicate key", "cpus = 1\ncpus = 2\n", nullptr, "cpus = 2", false, "", "TOML syntax error"},
};

}  // namespace

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
