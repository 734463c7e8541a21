// The bad-config corpus: one VM file (and maybe a config.toml) per rule, with the error each must
// give. config_test.cpp loads each one; validate_test.cpp checks dvm::validate finds them all.
#pragma once

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <string>
#include <utility>

namespace dvm_test {

// Line and column (1-based) of the first occurrence of `needle` in `text`.
inline std::pair<int, int> position_of(const std::string& text, const std::string& needle) {
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
inline void add_recipes(config_tree& t) {
  for (const char* r : {"node", "git", "zsh", "agent-user", "codex"}) {
    t.recipe(r, std::string("# Description: test recipe ") + r + "\n");
  }
}

inline const bad_case bad_cases[] = {
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

}  // namespace dvm_test
