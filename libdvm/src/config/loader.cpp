// Loading config.toml and vms/<name>.toml into a dvm::vm_config: reading the files, and
// config_store. The phases of checking them are described in config/loader_internal.hpp.
// This is the only translation unit that calls the TOML parser (toml::parse): the fuzz build
// compiles toml++ header-only and switches a check off for this file alone (tests/fuzz).
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "config/loader_internal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

namespace dvm {

using namespace config_detail;

namespace {

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

void load_global(const fs::path& file, const recipe_catalog& catalog, global_config& out) {
  out.file = std::make_unique<fs::path>(file);
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  toml::table t = parse_toml_file(file);
  parse_global_table(*out.file, t, catalog, out);
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

}  // namespace dvm
