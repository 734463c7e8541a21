// The name lists a config holds: [env] (settings that reach recipes as DVM_<KEY>), `secrets`
// (host variables handed to the guest over stdin) and [lima] pass_env. Names that look like
// secrets are refused wherever a value would sit in a file or in limactl's environment.
#include "config/loader_internal.hpp"

#include <dvm/error.hpp>

#include <algorithm>
#include <set>

namespace dvm::inline v0::config_detail {

namespace {

// [env] names that look like secrets are refused; these documented keys hold public key paths.
constexpr std::array<std::string_view, 2> public_key_settings = {"CHEZMOI_SIGNING_KEY",
                                                                 "CHEZMOI_DEPLOY_KEY"};
// Anywhere in the name ("GITHUB_TOKEN", "APIKEY", "DB_PASSWD", "AWS_CREDENTIALS", ...).
constexpr std::array<std::string_view, 11> secret_words = {
    "TOKEN",      "KEY",        "SECRET",  "PASSWORD", "AUTH",   "PASSWD",
    "PASSPHRASE", "CREDENTIAL", "PRIVATE", "COOKIE",   "SESSION"};
// Only as a whole `_`-separated word: "DB_PASS", "GITHUB_PAT", but not "CLAUDE_BYPASS",
// "PATH_PREFIX" or "COMPASS".
constexpr std::array<std::string_view, 2> secret_whole_words = {"PASS", "PAT"};
// [env] keys the guest program sets itself (DVM_NAME, DVM_USER, ...).
constexpr std::array<std::string_view, 5> reserved_env_keys = {"NAME", "USER", "CODE_DIR",
                                                               "AGENT_USER", "RECIPE"};

void check_env_key(const origin& key_at, const std::string& name) {
  if (!is_valid_env_key(name)) {
    fail(key_at, "\"" + name + "\" is not a valid setting name: use [A-Z][A-Z0-9_]* (it reaches recipes as DVM_<KEY>)");
  }
  if (looks_like_secret_name(name)) {
    fail(key_at, "\"" + name + "\" looks like a secret; config files must not hold secrets: list the host environment variable in secrets = [\"" + name + "\"] and set it when you run dvm");
  }
  if (std::find(reserved_env_keys.begin(), reserved_env_keys.end(), name) !=
          reserved_env_keys.end() ||
      name.starts_with("SECRET_FILE_")) {
    fail(key_at, "\"" + name + "\" is reserved: dvm sets DVM_" + name + " itself");
  }
}

}  // namespace

bool looks_like_secret_name(std::string_view key) {
  if (std::find(public_key_settings.begin(), public_key_settings.end(), key) !=
      public_key_settings.end()) {
    return false;
  }
  if (std::any_of(secret_words.begin(), secret_words.end(),
                  [&](std::string_view w) { return key.find(w) != std::string_view::npos; })) {
    return true;
  }
  std::string_view rest = key;
  while (true) {
    std::size_t underscore = rest.find('_');
    std::string_view word = rest.substr(0, underscore);
    if (std::find(secret_whole_words.begin(), secret_whole_words.end(), word) !=
        secret_whole_words.end()) {
      return true;
    }
    if (underscore == std::string_view::npos) return false;
    rest.remove_prefix(underscore + 1);
  }
}

void parse_env(const fs::path& file, const toml::node& node, const origin& at, settings& out) {
  const auto* t = node.as_table();
  if (t == nullptr) wrong_type(at, node, "a table");
  for (const auto& item : in_file_order(*t)) detail::keep_going([&] {
    const auto& [key, value] = item;  // (clang 14 cannot capture a binding)
    std::string name(key->str());
    origin key_at{&file, key->source(), at.key_path + "." + name};
    check_env_key(key_at, name);
    origin value_at = origin_of(file, *value, key_at.key_path);
    std::string text;
    if (value->is_string()) {
      text = get_string(value_at, *value);
    } else if (const auto* i = value->as_integer()) {
      text = std::to_string(i->get());
    } else if (const auto* b = value->as_boolean()) {
      text = b->get() ? "true" : "false";
    } else {
      wrong_type(value_at, *value, "a string, an integer or a boolean");
    }
    out.env[name] = raw_env{std::move(text), value_at};
  });
}

std::vector<raw_name> parse_secret_list(const fs::path& file, const toml::node& node,
                                        const origin& at) {
  std::vector<raw_name> list;
  std::set<std::string> seen;
  for (auto& s : parse_name_list(file, node, at)) {
    detail::keep_going([&] {  // (dvm::validate: each bad name is reported and left out)
      if (!is_valid_secret_name(s.text)) {
        fail(s.where, "\"" + s.text + "\" is not an environment variable name: use [A-Z_][A-Z0-9_]*");
      }
      if (!seen.insert(s.text).second) fail(s.where, "\"" + s.text + "\" is listed twice");
      list.push_back(std::move(s));
    });
  }
  return list;
}

// [lima] pass_env: more host variables for limactl (and through it Lima's host agent). Names
// that look like secrets are refused: limactl's environment is never a place for secrets.
std::vector<std::string> parse_pass_env(const fs::path& f, const toml::node& node, const origin& at) {
  std::vector<std::string> out;
  for (const auto& name : parse_name_list(f, node, at)) {
    if (!is_valid_env_key(name.text)) {
      fail(name.where, "\"" + name.text + "\" is not an environment variable name ([A-Z][A-Z0-9_]*)");
    }
    if (looks_like_secret_name(name.text)) {
      fail(name.where, "\"" + name.text + "\" looks like a secret; secrets never reach limactl's "
                                          "environment (list them in `secrets` to hand them to the guest)");
    }
    out.push_back(name.text);
  }
  return out;
}

// `secrets` is taken whole from one file; [env] is merged key by key, the VM file's winning.
void merge_secrets_and_env(const settings& vm, const settings& defaults, vm_config& out) {
  if (const auto& secrets = pick(vm.secrets, defaults.secrets); secrets.value) {
    for (const auto& s : *secrets.value) out.secrets.push_back(s.text);
  }
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : defaults.env) env[k] = v.value;
  for (const auto& [k, v] : vm.env) env[k] = v.value;
  out.env.assign(env.begin(), env.end());
}

}  // namespace dvm::v0::config_detail

namespace dvm::inline v0 {

bool is_secret_looking_name(std::string_view name) noexcept {
  return config_detail::looks_like_secret_name(name);
}

}  // namespace dvm::v0
