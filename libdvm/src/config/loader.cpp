// Loading and validating config.toml and vms/<name>.toml into a dvm::vm_config.
//
// Three phases, so that every error can name the file, line, column and key it comes from:
//   1. each file is parsed (toml++) and every key is checked on its own (type, range, syntax)
//      into a `settings` record that remembers where each value came from;
//   2. the VM file's settings override [defaults] key by key ([env] is merged key by key);
//   3. rules that involve several keys (ports need host_ip, code_dir needs code_root and user,
//      recipes need the catalog and [recipe_sets], ...) run on the merged record.
// This is the only translation unit that includes toml++.
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "config/suggest.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <tuple>

namespace dvm {

namespace {

namespace fs = std::filesystem;

// Where a value came from: file, position and key path ("ports[1]", "defaults.cpus").
struct origin {
  const fs::path* file = nullptr;
  toml::source_region region{};
  std::string key_path;
};

[[noreturn]] void fail(const origin& at, const std::string& rule) {
  throw config_error(at.file ? *at.file : fs::path(), static_cast<int>(at.region.begin.line),
                     static_cast<int>(at.region.begin.column), at.key_path, rule);
}

origin origin_of(const fs::path& file, const toml::node& node, std::string key_path) {
  return origin{&file, node.source(), std::move(key_path)};
}

template <class T>
struct field {
  std::optional<T> value;
  origin where;
};

struct raw_port {
  std::optional<std::string> ip;  // absent: host_ip applies
  std::uint16_t host = 0;
  std::uint16_t guest = 0;
  std::string proto = "tcp";
  origin where;
};

struct raw_name {
  std::string text;
  origin where;
};

struct raw_env {
  std::string value;
  origin where;
};

// Everything one file says about a VM, checked key by key.
struct settings {
  field<int> cpus;
  field<std::uint64_t> memory;
  field<std::uint64_t> disk;
  field<std::string> arch;
  field<std::string> vm_type;
  field<std::string> image;
  field<std::string> user;
  field<std::string> code_root;
  field<std::string> code_dir;
  field<std::string> host_ip;
  field<bool> baseline;
  field<std::vector<raw_port>> ports;
  field<std::vector<raw_name>> recipes;
  field<std::string> agent_user;
  field<std::vector<raw_name>> secrets;
  std::map<std::string, raw_env> env;
};

constexpr std::array<std::string_view, 16> vm_keys = {
    "cpus",    "memory",   "disk",       "arch",     "vm_type",  "image",
    "user",    "code_root", "code_dir",  "ports",    "host_ip",  "baseline",
    "recipes", "agent_user", "secrets",  "env"};
constexpr std::array<std::string_view, 3> global_keys = {"defaults", "recipe_sets", "lima"};
constexpr std::array<std::string_view, 1> lima_keys = {"pass_env"};
constexpr std::array<std::string_view, 4> port_keys = {"host", "guest", "ip", "proto"};

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

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

[[noreturn]] void wrong_type(const origin& at, const toml::node& node, std::string_view expected) {
  fail(at, "expected " + std::string(expected) + ", found " + std::string(type_name(node)));
}

std::string get_string(const origin& at, const toml::node& node) {
  const auto* s = node.as_string();
  if (s == nullptr) wrong_type(at, node, "a string");
  const std::string& text = s->get();
  if (text.find('\0') != std::string::npos) fail(at, "must not contain NUL characters");
  return text;
}

// Table entries in the order they appear in the file (toml++ keeps them sorted by name), so
// the first error reported is the first one in the file.
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& t) {
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (const auto& [key, node] : t) out.emplace_back(&key, &node);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  return out;
}

// `parent` is the key path of the table holding the key ("" at the top level); the error's key
// path is the unknown key's own ("memroy", "defaults.cpu", "ports[0].prot").
[[noreturn]] void unknown_key(const fs::path& file, const toml::key& key, const std::string& parent,
                              std::span<const std::string_view> known, std::string_view where,
                              std::string extra = {}) {
  std::string rule = "unknown key \"" + std::string(key.str()) + "\" in " + std::string(where);
  if (auto hint = suggest(key.str(), known)) rule += " (did you mean \"" + *hint + "\"?)";
  if (!extra.empty()) rule += "; " + extra;
  std::string path = parent.empty() ? std::string(key.str()) : parent + "." + std::string(key.str());
  throw config_error(file, static_cast<int>(key.source().begin.line),
                     static_cast<int>(key.source().begin.column), path, rule);
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A guest path: absolute, or "~" / "~/..." (the guest user's home, expanded only in the guest).
// Characters that would need care in shell, YAML or Lima's Go templates are refused outright.
void check_guest_path(const origin& at, std::string_view path) {
  if (path.empty()) fail(at, "must not be empty");
  if (!(path.front() == '/' || path == "~" || path.starts_with("~/"))) {
    fail(at, "\"" + std::string(path) + "\" must be an absolute guest path or start with \"~/\"");
  }
  if (has_control_chars(path)) fail(at, "must not contain control characters");
  for (char c : std::string_view("\"'$`\\{}")) {
    if (path.find(c) != std::string_view::npos) {
      fail(at, "\"" + std::string(path) + "\" must not contain " +
                   (c == '\\' ? std::string("a backslash") : "'" + std::string(1, c) + "'"));
    }
  }
  std::string_view rest = path;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part == "..") fail(at, "\"" + std::string(path) + "\" must not contain \"..\"");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
}

// The plain form of a checked guest path: "//home", "/./etc", "~/./code/" and "~//x" name the
// same directories as "/home", "/etc", "~/code" and "~/x", so the placement rule and the guest
// see "/home", "/etc", "~/code" and "~/x". (".." is refused by check_guest_path.)
std::string normalize_guest_path(std::string_view path) {
  std::string out = path.starts_with('~') ? "~" : "";
  std::string_view rest = path.starts_with('~') ? path.substr(1) : path;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (!part.empty() && part != ".") out += "/" + std::string(part);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out.empty() ? "/" : out;
}

std::uint16_t port_number(const origin& at, const toml::node& node, std::string_view which) {
  const auto* n = node.as_integer();
  if (n == nullptr) wrong_type(at, node, "an integer port number");
  std::int64_t v = n->get();
  if (v < 1 || v > 65535) {
    fail(at, std::string(which) + " port " + std::to_string(v) + " is out of range 1..65535");
  }
  return static_cast<std::uint16_t>(v);
}

// Lima refuses 22 in every port field, host side included (upstream/pkg/limayaml/validate.go:651-659,
// called for guestPort, hostPort and both range ends at validate.go:307-345).
void check_not_ssh_port(const origin& at, std::uint16_t port, std::string_view which) {
  if (port == 22) {
    fail(at, std::string(which) + " port 22 is refused: Lima keeps port 22 for the guest's SSH and "
                                  "rejects it in any port field");
  }
}

raw_port parse_port_table(const fs::path& file, const toml::table& t, const origin& at) {
  raw_port port;
  port.where = at;
  bool has_host = false;
  bool has_guest = false;
  for (const auto& [key, node] : in_file_order(t)) {
    origin sub = origin_of(file, *node, at.key_path + "." + std::string(key->str()));
    if (key->str() == "host") {
      port.host = port_number(sub, *node, "host");
      check_not_ssh_port(sub, port.host, "host");
      has_host = true;
    } else if (key->str() == "guest") {
      port.guest = port_number(sub, *node, "guest");
      check_not_ssh_port(sub, port.guest, "guest");
      has_guest = true;
    } else if (key->str() == "ip") {
      std::string ip = get_string(sub, *node);
      if (!is_ipv4_literal(ip)) fail(sub, "\"" + ip + "\" is not an IPv4 literal such as 127.0.0.1");
      port.ip = ip;
    } else if (key->str() == "proto") {
      std::string proto = get_string(sub, *node);
      if (proto != "tcp" && proto != "udp") fail(sub, "\"" + proto + "\" must be \"tcp\" or \"udp\"");
      port.proto = proto;
    } else {
      unknown_key(file, *key, at.key_path, port_keys, "a port rule");
    }
  }
  if (!has_host) fail(at, "a port rule table needs host = <port>");
  if (!has_guest) fail(at, "a port rule table needs guest = <port>");
  return port;
}

raw_port parse_port_string(const origin& at, const std::string& text) {
  raw_port port;
  port.where = at;
  // parse_port_forward checks the syntax; the IP placeholder is replaced by host_ip later.
  port_forward rule;
  try {
    rule = parse_port_forward(text, "0.0.0.0");
  } catch (const error& e) {
    fail(at, e.what());
  }
  if (std::count(text.begin(), text.end(), ':') == 2) port.ip = rule.host_ip;
  port.host = rule.host_port;
  port.guest = rule.guest_port;
  check_not_ssh_port(at, port.host, "host");
  check_not_ssh_port(at, port.guest, "guest");
  return port;
}

std::vector<raw_name> parse_name_list(const fs::path& file, const toml::node& node,
                                      const origin& at) {
  const auto* arr = node.as_array();
  if (arr == nullptr) wrong_type(at, node, "an array of strings");
  std::vector<raw_name> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    origin sub = origin_of(file, el, at.key_path + "[" + std::to_string(i) + "]");
    out.push_back(raw_name{get_string(sub, el), sub});
  }
  return out;
}

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
  for (const auto& [key, value] : in_file_order(*t)) {
    std::string name(key->str());
    origin key_at{&file, key->source(), at.key_path + "." + name};
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
  }
}

// Phase 1 for the keys a VM file and [defaults] share.
void parse_vm_key(const fs::path& file, const toml::key& key, const toml::node& node,
                  const std::string& prefix, settings& out) {
  const std::string name(key.str());
  origin at = origin_of(file, node, prefix + name);
  auto string_value = [&] { return get_string(at, node); };
  if (name == "cpus") {
    const auto* n = node.as_integer();
    if (n == nullptr) wrong_type(at, node, "an integer");
    if (n->get() < 1 || n->get() > 1024) {
      fail(at, std::to_string(n->get()) + " is out of range 1..1024");
    }
    out.cpus = {static_cast<int>(n->get()), at};
  } else if (name == "memory" || name == "disk") {
    std::string text = string_value();
    std::uint64_t bytes = 0;
    try {
      bytes = parse_size(text);
    } catch (const error& e) {
      fail(at, e.what());
    }
    (name == "memory" ? out.memory : out.disk) = {bytes, at};
  } else if (name == "arch") {
    std::string v = string_value();
    if (v != "default" && v != "x86_64" && v != "aarch64") {
      fail(at, "\"" + v + "\" must be \"default\", \"x86_64\" or \"aarch64\"");
    }
    out.arch = {v, at};
  } else if (name == "vm_type") {
    std::string v = string_value();
    if (v != "vz" && v != "qemu") fail(at, "\"" + v + "\" must be \"vz\" or \"qemu\"");
    out.vm_type = {v, at};
  } else if (name == "image") {
    std::string v = string_value();
    if (v.empty()) fail(at, "must not be empty");
    // Braces too: the image is recorded in a provision script, which Lima reads as a Go template.
    if (has_control_chars(v) || v.find_first_of(" \t{}") != std::string::npos) {
      fail(at, "must not contain spaces, braces or control characters");
    }
    if (!(v.starts_with("template:") || v.starts_with("https://") || v.starts_with("file://") ||
          v.starts_with("/"))) {
      fail(at, "\"" + v + "\" is not a Lima template locator: use template:NAME, an https:// URL, file:// or an absolute path");
    }
    out.image = {v, at};
  } else if (name == "user" || name == "agent_user") {
    std::string v = string_value();
    if (!is_valid_user_name(v)) {
      fail(at, "\"" + v + "\" is not a valid Linux user name: use [a-z_][a-z0-9_-]*, at most 32 characters");
    }
    if (v == "root") fail(at, "must not be root");
    (name == "user" ? out.user : out.agent_user) = {v, at};
  } else if (name == "code_root" || name == "code_dir") {
    std::string v = string_value();
    check_guest_path(at, v);
    field<std::string>& target = name == "code_root" ? out.code_root : out.code_dir;
    target.value = normalize_guest_path(v);
    target.where = at;
  } else if (name == "host_ip") {
    std::string v = string_value();
    if (!is_ipv4_literal(v)) fail(at, "\"" + v + "\" is not an IPv4 literal such as 127.0.0.1");
    out.host_ip = {v, at};
  } else if (name == "baseline") {
    const auto* b = node.as_boolean();
    if (b == nullptr) wrong_type(at, node, "a boolean (true or false)");
    out.baseline = {b->get(), at};
  } else if (name == "ports") {
    const auto* arr = node.as_array();
    if (arr == nullptr) wrong_type(at, node, "an array of port rules");
    std::vector<raw_port> ports;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& el = *arr->get(i);
      origin sub = origin_of(file, el, at.key_path + "[" + std::to_string(i) + "]");
      if (const auto* s = el.as_string()) {
        ports.push_back(parse_port_string(sub, s->get()));
      } else if (const auto* t = el.as_table()) {
        ports.push_back(parse_port_table(file, *t, sub));
      } else {
        wrong_type(sub, el, "a string such as \"3000:3000\" or a table {host = 3000, guest = 3000}");
      }
    }
    out.ports = {std::move(ports), at};
  } else if (name == "recipes") {
    auto list = parse_name_list(file, node, at);
    for (const auto& r : list) {
      std::string_view n = r.text;
      if (n.starts_with('@')) n.remove_prefix(1);
      if (!is_valid_recipe_name(n)) {
        fail(r.where, "\"" + r.text + "\" is not a recipe name ([a-z0-9][a-z0-9-]*) or a recipe set (@name)");
      }
    }
    out.recipes = {std::move(list), at};
  } else if (name == "secrets") {
    auto list = parse_name_list(file, node, at);
    std::set<std::string> seen;
    for (const auto& s : list) {
      if (!is_valid_secret_name(s.text)) {
        fail(s.where, "\"" + s.text + "\" is not an environment variable name: use [A-Z_][A-Z0-9_]*");
      }
      if (!seen.insert(s.text).second) fail(s.where, "\"" + s.text + "\" is listed twice");
    }
    out.secrets = {std::move(list), at};
  } else if (name == "env") {
    parse_env(file, node, at, out);
  }
}

void parse_vm_table(const fs::path& file, const toml::table& t, const std::string& prefix,
                    std::string_view where, settings& out) {
  for (const auto& [key, node] : in_file_order(t)) {
    if (std::find(vm_keys.begin(), vm_keys.end(), key->str()) == vm_keys.end()) {
      std::string extra;
      if (key->str() == "name") extra = "a VM's name is its file name";
      unknown_key(file, *key, prefix.empty() ? std::string() : prefix.substr(0, prefix.size() - 1),
                  vm_keys, where, extra);
    }
    parse_vm_key(file, *key, *node, prefix, out);
  }
}

toml::table parse_toml_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw config_error(file, 0, 0, "", "cannot be read: " + std::string(std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error(file, 0, 0, "", "cannot be read");
  try {
    return toml::parse(text.str(), file.string());
  } catch (const toml::parse_error& e) {
    throw config_error(file, static_cast<int>(e.source().begin.line),
                       static_cast<int>(e.source().begin.column), "",
                       "TOML syntax error: " + std::string(e.description()));
  }
}

template <class T>
const field<T>& pick(const field<T>& vm, const field<T>& defaults) {
  return vm.value ? vm : defaults;
}

// config.toml: [defaults] and [recipe_sets].
struct global_config {
  settings defaults;
  struct recipe_set {
    std::vector<raw_name> members;
    origin where;
  };
  std::map<std::string, recipe_set> recipe_sets;
  std::vector<std::string> lima_pass_env;  // [lima] pass_env
  std::unique_ptr<fs::path> file;  // stable address for origins
};

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

void load_global(const fs::path& file, const recipe_catalog& catalog, global_config& out) {
  out.file = std::make_unique<fs::path>(file);
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  toml::table t = parse_toml_file(file);
  const fs::path& f = *out.file;
  for (const auto& [key, node] : in_file_order(t)) {
    if (key->str() == "defaults") {
      const auto* d = node->as_table();
      if (d == nullptr) wrong_type(origin_of(f, *node, "defaults"), *node, "a table");
      parse_vm_table(f, *d, "defaults.", "[defaults]", out.defaults);
    } else if (key->str() == "recipe_sets") {
      const auto* sets = node->as_table();
      origin at = origin_of(f, *node, "recipe_sets");
      if (sets == nullptr) wrong_type(at, *node, "a table");
      for (const auto& [set_key, set_node] : in_file_order(*sets)) {
        std::string set_name(set_key->str());
        origin set_at{&f, set_key->source(), "recipe_sets." + set_name};
        if (!is_valid_recipe_name(set_name)) {
          fail(set_at, "\"" + set_name + "\" is not a valid set name: use [a-z0-9][a-z0-9-]*");
        }
        auto members = parse_name_list(f, *set_node, origin_of(f, *set_node, set_at.key_path));
        for (const auto& m : members) {
          if (m.text.starts_with('@')) fail(m.where, "recipe sets cannot contain other sets");
          if (catalog.find(m.text) == nullptr) {
            std::vector<std::string_view> names;
            for (const auto& r : catalog.all()) names.push_back(r.name);
            std::string rule = "unknown recipe \"" + m.text + "\"";
            if (auto hint = suggest(m.text, names)) rule += " (did you mean \"" + *hint + "\"?)";
            fail(m.where, rule);
          }
        }
        out.recipe_sets[set_name] = {std::move(members), set_at};
      }
    } else if (key->str() == "lima") {
      const auto* lima = node->as_table();
      if (lima == nullptr) wrong_type(origin_of(f, *node, "lima"), *node, "a table");
      for (const auto& [lima_key, lima_node] : in_file_order(*lima)) {
        if (lima_key->str() != "pass_env") unknown_key(f, *lima_key, "lima", lima_keys, "[lima]");
        out.lima_pass_env = parse_pass_env(f, *lima_node, origin_of(f, *lima_node, "lima.pass_env"));
      }
    } else {
      bool is_vm_key = std::find(vm_keys.begin(), vm_keys.end(), key->str()) != vm_keys.end();
      unknown_key(f, *key, "", global_keys, "config.toml",
                  is_vm_key ? "per-VM settings go under [defaults]" : "");
    }
  }
}

std::string derive_code_dir(const std::string& root, const std::string& name) {
  return root == "/" ? "/" + name : root + "/" + name;
}

// The code directory gets rwx ACLs for the agent user and is scanned by `rm`: it must be a
// directory of its own, never the home, a parent of it, or a system directory; and root's and
// the main user's work on it must not walk through a directory the agent user (or every user)
// can write to: the agent's home, /tmp, /var/tmp. `code_dir` is in its plain form
// (normalize_guest_path), so "//home" or "~/." meet the same rule as "/home" or "~".
void check_code_dir_placement(const origin& at, const std::string& code_dir,
                              const std::string& home, const std::string& agent_home) {
  static constexpr std::array<std::string_view, 17> system_dirs = {
      "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc",
      "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var"};
  std::string absolute = code_dir == "~" ? home
                         : code_dir.starts_with("~/") ? home + code_dir.substr(1)
                                                      : code_dir;
  if (absolute == home || (home.starts_with(absolute) && home[absolute.size()] == '/')) {
    fail(at, "\"" + code_dir + "\" is the guest home or contains it; use a directory of its own such as \"~/code/<name>\"");
  }
  if (std::find(system_dirs.begin(), system_dirs.end(), absolute) != system_dirs.end()) {
    fail(at, "\"" + code_dir + "\" is a system directory; use a directory of its own such as \"~/code/<name>\"");
  }
  for (std::string_view prefix : {"/usr/", "/etc/", "/proc/", "/sys/", "/dev/", "/boot/"}) {
    if (absolute.starts_with(prefix)) fail(at, "\"" + code_dir + "\" lies in a system directory");
  }
  if (absolute == agent_home || absolute.starts_with(agent_home + "/")) {
    fail(at, "\"" + code_dir + "\" lies in the agent user's home " + agent_home +
                 ", which the agent controls; use a directory such as \"~/code/<name>\"");
  }
  for (std::string_view prefix : {"/tmp/", "/var/tmp/"}) {
    if (absolute.starts_with(prefix)) {
      fail(at, "\"" + code_dir + "\" lies in " + std::string(prefix.substr(0, prefix.size() - 1)) +
                   ", which every user can write to; use a directory such as \"~/code/<name>\"");
    }
  }
}

vm_config merge_and_check(const std::string& name, const fs::path& file, const settings& vm,
                          const global_config& global, const recipe_catalog& catalog,
                          const host_info& host) {
  const settings& d = global.defaults;
  vm_config out;
  out.name = name;
  out.file = file;

  if (const auto& f = pick(vm.cpus, d.cpus); f.value) {
    out.cpus = *f.value;
    if (host.cpus > 0 && static_cast<unsigned>(out.cpus) > host.cpus) {
      out.warnings.push_back(f.where.key_path + " = " + std::to_string(out.cpus) +
                             " is more than the " + std::to_string(host.cpus) +
                             " CPUs of this host");
    }
  }
  out.memory_bytes = pick(vm.memory, d.memory).value.value_or(2ULL << 30);
  out.disk_bytes = pick(vm.disk, d.disk).value.value_or(10ULL << 30);
  const auto& arch = pick(vm.arch, d.arch);
  out.arch = arch.value.value_or("default");
  // vz runs only the host's own architecture: Lima's vz driver fails with "unsupported arch"
  // (upstream/pkg/driver/vz/vz_driver_darwin.go:301-303) after `limactl create` has already
  // written the instance (upstream/cmd/limactl/start.go:571-579). So a foreign arch defaults to
  // qemu, and an explicit vz with one is refused here.
  const bool native_arch = out.arch == "default" || out.arch == host.arch;
  const auto& vm_type = pick(vm.vm_type, d.vm_type);
  out.vm_type = vm_type.value.value_or(host.os == "darwin" && native_arch ? "vz" : "qemu");
  if (out.vm_type == "vz" && !native_arch) {
    fail(vm_type.where, "vm_type = \"vz\" runs only this host's architecture (" + host.arch +
                            "), not arch = \"" + out.arch + "\" (" + arch.where.key_path +
                            "); use vm_type = \"qemu\" or leave vm_type out");
  }
  out.image = pick(vm.image, d.image).value.value_or("template:_images/fedora");

  const auto& user = pick(vm.user, d.user);
  if (user.value) {
    out.user = *user.value;
  } else {
    out.user = is_valid_user_name(host.login_name) && host.login_name != "root" ? host.login_name
                                                                               : "developer";
  }
  const auto& agent = pick(vm.agent_user, d.agent_user);
  out.agent_user = agent.value.value_or("dvm-agent");
  if (out.agent_user == out.user) {
    fail(agent.value ? agent.where : user.where,
         "the agent user must differ from the guest user \"" + out.user + "\"");
  }

  const auto& code_dir = pick(vm.code_dir, d.code_dir);
  const auto& code_root = pick(vm.code_root, d.code_root);
  if (code_dir.value) {
    out.code_dir = *code_dir.value;
    check_code_dir_placement(code_dir.where, out.code_dir, out.guest_home(), "/home/" + out.agent_user);
  } else {
    out.code_dir = derive_code_dir(code_root.value.value_or("~/code"), name);
    origin at = code_root.value ? code_root.where : origin{&file, {}, "code_dir"};
    check_code_dir_placement(at, out.code_dir, out.guest_home(), "/home/" + out.agent_user);
  }

  const auto& host_ip = pick(vm.host_ip, d.host_ip);
  out.host_ip = host_ip.value.value_or("127.0.0.1");
  if (const auto& ports = pick(vm.ports, d.ports); ports.value) {
    std::vector<const raw_port*> sources;
    for (const auto& p : *ports.value) {
      port_forward rule{p.ip.value_or(out.host_ip), p.host, p.guest, p.proto};
      for (std::size_t j = 0; j < out.ports.size(); ++j) {
        // Lima resolves a guest listener to the first rule for its port and protocol
        // (upstream/pkg/portfwd/forward.go:100-131); a second rule would never bind.
        if (out.ports[j].guest_port == rule.guest_port && out.ports[j].proto == rule.proto) {
          fail(p.where, "guest port " + std::to_string(rule.guest_port) + "/" + rule.proto +
                            " is already forwarded by " + sources[j]->where.key_path + " (" +
                            to_string(out.ports[j]) +
                            "); Lima uses only the first rule for a guest port, so each guest port "
                            "can have one host binding");
        }
        if (host_bindings_conflict(out.ports[j], rule)) {
          fail(p.where, "host binding " + rule.host_ip + ":" + std::to_string(rule.host_port) + "/" +
                            rule.proto + " conflicts with " + sources[j]->where.key_path + " (" +
                            to_string(out.ports[j]) + ")");
        }
      }
      out.ports.push_back(rule);
      sources.push_back(&p);
    }
  }

  out.baseline = pick(vm.baseline, d.baseline).value.value_or(true);

  // Recipes: expand @sets, drop duplicates (first position wins), check names and order.
  if (const auto& recipes = pick(vm.recipes, d.recipes); recipes.value) {
    std::vector<std::string_view> names;
    for (const auto& r : catalog.all()) names.push_back(r.name);
    std::vector<std::string_view> set_names;
    for (const auto& [set_name, _] : global.recipe_sets) set_names.push_back(set_name);
    std::set<std::string> seen;
    if (out.baseline) seen.insert(std::string(baseline_recipe));  // it runs first anyway
    auto add = [&](const std::string& recipe_name, const origin& where) {
      if (catalog.find(recipe_name) == nullptr) {
        std::string rule = "unknown recipe \"" + recipe_name + "\"";
        if (auto hint = suggest(recipe_name, names)) rule += " (did you mean \"" + *hint + "\"?)";
        rule += "; see `dvm recipes`";
        fail(where, rule);
      }
      if (!seen.insert(recipe_name).second) return;
      // The recipe's `# Requires:` header line: those must already be in the list.
      for (const auto& needed : catalog.find(recipe_name)->requires_recipes) {
        if (seen.count(needed) == 0) {
          fail(where, "recipe \"" + recipe_name + "\" needs \"" + needed +
                          "\" earlier in the list (its header says \"# Requires: " + needed + "\")");
        }
      }
      out.recipes.push_back(recipe_name);
    };
    for (const auto& r : *recipes.value) {
      if (r.text.starts_with('@')) {
        std::string set_name = r.text.substr(1);
        auto it = global.recipe_sets.find(set_name);
        if (it == global.recipe_sets.end()) {
          std::string rule = "unknown recipe set \"" + r.text + "\"";
          if (auto hint = suggest(set_name, set_names)) rule += " (did you mean \"@" + *hint + "\"?)";
          rule += "; sets are defined under [recipe_sets] in config.toml";
          fail(r.where, rule);
        }
        for (const auto& member : it->second.members) add(member.text, r.where);
      } else {
        add(r.text, r.where);
      }
    }
  }

  if (const auto& secrets = pick(vm.secrets, d.secrets); secrets.value) {
    for (const auto& s : *secrets.value) out.secrets.push_back(s.text);
  }

  std::map<std::string, std::string> env;
  for (const auto& [k, v] : d.env) env[k] = v.value;
  for (const auto& [k, v] : vm.env) env[k] = v.value;
  out.env.assign(env.begin(), env.end());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct config_store::lazy_catalog {
  std::once_flag once;
  std::optional<recipe_catalog> catalog;
};

config_store::config_store(paths where, host_info host)
    : paths_(std::move(where)), host_(std::move(host)), recipes_(std::make_shared<lazy_catalog>()) {}

fs::path config_store::vm_file(std::string_view name) const {
  return paths_.config_dir / "vms" / (std::string(name) + ".toml");
}

std::vector<std::string> config_store::vm_names() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(paths_.config_dir / "vms", ec)) {
    const fs::path& p = entry.path();
    if (p.extension() != ".toml") continue;
    std::error_code type_ec;
    if (entry.is_directory(type_ec)) continue;  // a file (or a link to one) makes a VM
    std::string stem = p.stem().string();
    if (is_valid_vm_name(stem)) names.push_back(stem);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool config_store::has_vm(std::string_view name) const {
  std::error_code ec;
  return is_valid_vm_name(name) && fs::is_regular_file(vm_file(name), ec);
}

const recipe_catalog& config_store::recipes() const {
  // A failed load (a bad user recipe) throws out of call_once and is retried next time.
  std::call_once(recipes_->once, [&] { recipes_->catalog.emplace(paths_.config_dir / "recipes"); });
  return *recipes_->catalog;
}

vm_config config_store::load(std::string_view name) const {
  if (!is_valid_vm_name(name)) normalize_vm_name(name);  // throws the usage error
  fs::path file = vm_file(name);
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    throw config_error(file, 0, 0, "", "is a directory, not a VM file");
  }
  if (!fs::exists(file, ec)) {
    throw error(errc::not_found, "no VM named \"" + std::string(name) + "\" is configured (" +
                                     file.string() + " does not exist; `dvm init " +
                                     std::string(name) + "` creates it)");
  }
  const recipe_catalog& catalog = recipes();
  global_config global;
  load_global(paths_.config_dir / "config.toml", catalog, global);

  toml::table t = parse_toml_file(file);
  settings vm;
  parse_vm_table(file, t, "", "a VM file", vm);
  return merge_and_check(std::string(name), file, vm, global, catalog, host_);
}

std::vector<std::string> config_store::lima_pass_env() const {
  global_config global;
  load_global(paths_.config_dir / "config.toml", recipes(), global);
  return global.lima_pass_env;
}

bool is_secret_looking_name(std::string_view name) noexcept { return looks_like_secret_name(name); }

}  // namespace dvm
