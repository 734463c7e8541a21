// Phase 1 for the keys a VM file and [defaults] share: each key is checked on its own (type,
// range, syntax) into a `settings` record that remembers where each value came from.
#include "config/loader_internal.hpp"

#include <dvm/error.hpp>

#include <algorithm>

namespace dvm::inline v0::config_detail {

namespace {

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

int cpus_value(const origin& at, const toml::node& node) {
  const auto* n = node.as_integer();
  if (n == nullptr) wrong_type(at, node, "an integer");
  if (n->get() < 1 || n->get() > 1024) {
    fail(at, std::to_string(n->get()) + " is out of range 1..1024");
  }
  return static_cast<int>(n->get());
}

std::uint64_t size_value(const origin& at, const toml::node& node) {
  std::string text = get_string(at, node);
  std::uint64_t bytes = 0;
  try {
    bytes = parse_size(text);
  } catch (const error& e) {
    fail(at, e.what());
  }
  return bytes;
}

std::string arch_value(const origin& at, const toml::node& node) {
  std::string v = get_string(at, node);
  if (v != "default" && v != "x86_64" && v != "aarch64") {
    fail(at, "\"" + v + "\" must be \"default\", \"x86_64\" or \"aarch64\"");
  }
  return v;
}

std::string vm_type_value(const origin& at, const toml::node& node) {
  std::string v = get_string(at, node);
  if (v != "vz" && v != "qemu") fail(at, "\"" + v + "\" must be \"vz\" or \"qemu\"");
  return v;
}

std::string image_value(const origin& at, const toml::node& node) {
  std::string v = get_string(at, node);
  if (v.empty()) fail(at, "must not be empty");
  // Braces too: the image is recorded in a provision script, which Lima reads as a Go template.
  if (has_control_chars(v) || v.find_first_of(" \t{}") != std::string::npos) {
    fail(at, "must not contain spaces, braces or control characters");
  }
  if (!(v.starts_with("template:") || v.starts_with("https://") || v.starts_with("file://") ||
        v.starts_with("/"))) {
    fail(at, "\"" + v + "\" is not a Lima template locator: use template:NAME, an https:// URL, file:// or an absolute path");
  }
  return v;
}

std::string user_value(const origin& at, const toml::node& node) {
  std::string v = get_string(at, node);
  if (!is_valid_user_name(v)) {
    fail(at, "\"" + v + "\" is not a valid Linux user name: use [a-z_][a-z0-9_-]*, at most 32 characters");
  }
  if (v == "root") fail(at, "must not be root");
  return v;
}

std::string guest_path_value(const origin& at, const toml::node& node) {
  std::string v = get_string(at, node);
  check_guest_path(at, v);
  return normalize_guest_path(v);
}

std::string host_ip_value(const origin& at, const toml::node& node) {
  std::string v = get_string(at, node);
  if (!is_ipv4_literal(v)) fail(at, "\"" + v + "\" is not an IPv4 literal such as 127.0.0.1");
  return v;
}

bool baseline_value(const origin& at, const toml::node& node) {
  const auto* b = node.as_boolean();
  if (b == nullptr) wrong_type(at, node, "a boolean (true or false)");
  return b->get();
}

std::vector<raw_name> recipe_list(const fs::path& file, const toml::node& node, const origin& at) {
  std::vector<raw_name> list;
  for (auto& r : parse_name_list(file, node, at)) {
    detail::keep_going([&] {  // (dvm::validate: each bad name is reported and left out)
      std::string_view n = r.text;
      if (n.starts_with('@')) n.remove_prefix(1);
      if (!is_valid_recipe_name(n)) {
        fail(r.where, "\"" + r.text + "\" is not a recipe name ([a-z0-9][a-z0-9-]*) or a recipe set (@name)");
      }
      list.push_back(std::move(r));
    });
  }
  return list;
}

void parse_vm_key(const fs::path& file, const toml::key& key, const toml::node& node,
                  const std::string& prefix, settings& out) {
  const std::string name(key.str());
  origin at = origin_of(file, node, prefix + name);
  if (name == "cpus") {
    out.cpus = {cpus_value(at, node), at};
  } else if (name == "memory" || name == "disk") {
    // A named target: GCC 12 miscompiles `(c ? a : b) = {f(), at}` when the false branch is
    // taken and f() returns a std::string (the value ends up empty), so that form is avoided.
    field<std::uint64_t>& target = name == "memory" ? out.memory : out.disk;
    target = {size_value(at, node), at};
  } else if (name == "arch") {
    out.arch = {arch_value(at, node), at};
  } else if (name == "vm_type") {
    out.vm_type = {vm_type_value(at, node), at};
  } else if (name == "image") {
    out.image = {image_value(at, node), at};
  } else if (name == "user" || name == "agent_user") {
    field<std::string>& target = name == "user" ? out.user : out.agent_user;
    target = {user_value(at, node), at};
  } else if (name == "code_root" || name == "code_dir") {
    field<std::string>& target = name == "code_root" ? out.code_root : out.code_dir;
    target = {guest_path_value(at, node), at};
  } else if (name == "host_ip") {
    out.host_ip = {host_ip_value(at, node), at};
  } else if (name == "baseline") {
    out.baseline = {baseline_value(at, node), at};
  } else if (name == "ports") {
    out.ports = {parse_port_list(file, node, at), at};
  } else if (name == "recipes") {
    out.recipes = {recipe_list(file, node, at), at};
  } else if (name == "secrets") {
    out.secrets = {parse_secret_list(file, node, at), at};
  } else if (name == "env") {
    parse_env(file, node, at, out);
  }
}

}  // namespace

void parse_vm_table(const fs::path& file, const toml::table& t, const std::string& prefix,
                    std::string_view where, settings& out) {
  for (const auto& item : in_file_order(t)) {
    detail::keep_going([&] {
      const auto& [key, node] = item;  // (clang 14 cannot capture a binding)
      if (std::find(vm_keys.begin(), vm_keys.end(), key->str()) == vm_keys.end()) {
        std::string extra;
        if (key->str() == "name") extra = "a VM's name is its file name";
        unknown_key(file, *key, prefix.empty() ? std::string() : prefix.substr(0, prefix.size() - 1),
                    vm_keys, where, extra);
      }
      parse_vm_key(file, *key, *node, prefix, out);
    });
  }
}

}  // namespace dvm::v0::config_detail
