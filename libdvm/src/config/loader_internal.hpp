// Private to the config loader (libdvm/src/config/*.cpp): the records and helpers shared by its
// translation units. Loading runs in three phases, so that every error can name the file, line,
// column and key it comes from:
//   1. each file is parsed (toml++) and every key is checked on its own (type, range, syntax)
//      into a `settings` record that remembers where each value came from
//      (vm_settings.cpp, port_settings.cpp, env_settings.cpp, global_settings.cpp);
//   2. the VM file's settings override [defaults] key by key ([env] is merged key by key);
//   3. rules that involve several keys (ports need host_ip, code_dir needs code_root and user,
//      recipes need the catalog and [recipe_sets], ...) run on the merged record (merge.cpp).
// Only the config loader includes this header (and with it toml++).
#pragma once

#include <dvm/config.hpp>

#include "config/problems.hpp"

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvm::inline v0::config_detail {

namespace fs = std::filesystem;

// Where a value came from: file, position and key path ("ports[1]", "defaults.cpus").
struct origin {
  const fs::path* file = nullptr;
  toml::source_region region{};
  std::string key_path;
};

[[noreturn]] void fail(const origin& at, const std::string& rule);
// A finding that does not stop loading: "<key path>: <rule>" goes to out.warnings and, located
// at `at`, the rule to dvm::validate's problems (config/problems.hpp). The rule does not repeat
// the key path.
void warn(const origin& at, const std::string& rule, vm_config& out);

inline origin origin_of(const fs::path& file, const toml::node& node, std::string key_path) {
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

inline constexpr std::array<std::string_view, 16> vm_keys = {
    "cpus",    "memory",   "disk",       "arch",     "vm_type",  "image",
    "user",    "code_root", "code_dir",  "ports",    "host_ip",  "baseline",
    "recipes", "agent_user", "secrets",  "env"};

// The vm's value if it has one, else [defaults]'.
template <class T>
const field<T>& pick(const field<T>& vm, const field<T>& defaults) {
  return vm.value ? vm : defaults;
}

// toml_fields.cpp: reading single TOML nodes.
[[noreturn]] void wrong_type(const origin& at, const toml::node& node, std::string_view expected);
std::string get_string(const origin& at, const toml::node& node);
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& t);
[[noreturn]] void unknown_key(const fs::path& file, const toml::key& key, const std::string& parent,
                              std::span<const std::string_view> known, std::string_view where,
                              std::string extra = {});
bool has_control_chars(std::string_view s);
std::vector<raw_name> parse_name_list(const fs::path& file, const toml::node& node,
                                      const origin& at);

// vm_settings.cpp: phase 1 for a VM file and [defaults].
void parse_vm_table(const fs::path& file, const toml::table& t, const std::string& prefix,
                    std::string_view where, settings& out);

// port_settings.cpp: the `ports` list and its phase 3.
std::vector<raw_port> parse_port_list(const fs::path& file, const toml::node& node, const origin& at);
void merge_ports(const settings& vm, const settings& defaults, vm_config& out);

// env_settings.cpp: [env], `secrets` and [lima] pass_env.
bool looks_like_secret_name(std::string_view key);
void parse_env(const fs::path& file, const toml::node& node, const origin& at, settings& out);
std::vector<raw_name> parse_secret_list(const fs::path& file, const toml::node& node,
                                        const origin& at);
std::vector<std::string> parse_pass_env(const fs::path& f, const toml::node& node, const origin& at);
void merge_secrets_and_env(const settings& vm, const settings& defaults, vm_config& out);

// global_settings.cpp: the tables of config.toml.
void parse_global_table(const fs::path& f, const toml::table& t, const recipe_catalog& catalog,
                        global_config& out);

// merge.cpp: phases 2 and 3.
vm_config merge_and_check(const std::string& name, const fs::path& file, const settings& vm,
                          const global_config& global, const recipe_catalog& catalog,
                          const host_info& host);

}  // namespace dvm::v0::config_detail
