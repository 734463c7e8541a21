// Loading config.toml and vms/<name>.toml into a dvm::vm_config: reading the files, and
// config_store. The phases of checking them are described in config/loader_internal.hpp.
// This is the only translation unit that calls the TOML parser (toml::parse): the fuzz build
// compiles toml++ header-only and switches a check off for this file alone (tests/fuzz).
#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/timeouts.hpp>

#include "config/loader_internal.hpp"
#include "io_error.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <tuple>

namespace dvm::inline v0 {

using namespace config_detail;

namespace {

// A file that cannot be read is a host problem (errc::io with the errno), not a config error.
toml::table parse_toml_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw detail::io_error("cannot read the config file " + file.string(), err);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    const int err = errno;
    throw detail::io_error("cannot read the config file " + file.string(), err != 0 ? err : EIO);
  }
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

// The *.toml files of vms/, sorted by name: the VM files and the ones dvm would skip.
std::vector<fs::path> toml_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs one file's checks for validate(): a config_error is recorded by keep_going(); any other
// dvm::error (a file that cannot be read) becomes a problem of that file.
template <class Check>
void check_file(detail::problem_sink& sink, std::vector<config_problem>& problems,
                const fs::path& file, Check&& check) {
  try {
    detail::keep_going(std::forward<Check>(check));
  } catch (const error& e) {
    problems.push_back({file, 0, 0, "", e.what(), severity::error, sink.vm});
  }
}

// validate()'s order: config.toml, recipes/, vms/ (each by name), then the environment; by line
// and column within a file. The same problem found through several VMs (a bad [defaults] value)
// is kept once.
void sort_problems(std::vector<config_problem>& problems, const fs::path& config_dir) {
  auto rank = [&](const config_problem& p) {
    if (p.file.empty()) return 3;
    if (p.file == config_dir / "config.toml") return 0;
    return p.file.parent_path() == config_dir / "recipes" ? 1 : 2;
  };
  auto key = [&](const config_problem& p) {
    return std::tuple(rank(p), p.file, p.line, p.column, p.key_path, p.rule, p.severity);
  };
  std::stable_sort(problems.begin(), problems.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
  problems.erase(std::unique(problems.begin(), problems.end(),
                             [&](const auto& a, const auto& b) { return key(a) == key(b); }),
                 problems.end());
}

}  // namespace

thread_local detail::problem_sink* detail::problem_sink::open_ = nullptr;

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

std::vector<config_problem> config_store::validate(const std::map<std::string, std::string>& environment) const {
  std::vector<config_problem> problems;
  bool sets_loaded = true;
  {
    detail::problem_sink sink(problems);
    // A catalog of its own, built while the sink is open (every bad recipe is recorded and
    // left out); the store's cached one must go on refusing them.
    recipe_catalog catalog(paths_.config_dir / "recipes");
    global_config global;
    const fs::path global_file = paths_.config_dir / "config.toml";
    check_file(sink, problems, global_file, [&] { load_global(global_file, catalog, global); });
    // An unknown @set is only an echo when config.toml's [recipe_sets] (or the whole file) did
    // not load: such findings are dropped below.
    sets_loaded = std::none_of(problems.begin(), problems.end(), [&](const auto& p) {
      return p.file == global_file && (p.key_path.empty() || p.key_path.starts_with("recipe_sets"));
    });
    for (const fs::path& file : toml_files(paths_.config_dir / "vms")) {
      const std::string stem = file.stem().string();
      std::error_code ec;
      if (!is_valid_vm_name(stem) || fs::is_directory(file, ec)) {
        std::string why = fs::is_directory(file, ec)
            ? "is a directory"
            : "\"" + stem + "\" is not a VM name ([a-z][a-z0-9-]*, at most 30 characters, not ending in \"-\")";
        problems.push_back({file, 0, 0, "", why + ": dvm ignores this file", severity::warning, ""});
        continue;
      }
      sink.vm = stem;
      check_file(sink, problems, file, [&] {
        toml::table t = parse_toml_file(file);
        settings vm;
        parse_vm_table(file, t, "", "a VM file", vm);
        merge_and_check(stem, file, vm, global, catalog, host_);
      });
    }
    sink.vm.clear();
  }
  if (!sets_loaded) {
    std::erase_if(problems, [](const auto& p) { return p.rule.starts_with("unknown recipe set"); });
  }
  if (auto it = environment.find("DVM_TIMEOUT"); it != environment.end()) {
    try {
      parse_timeout_cap(it->second);
    } catch (const error& e) {
      problems.push_back({{}, 0, 0, "DVM_TIMEOUT", e.what(), severity::warning, ""});
    }
  }
  sort_problems(problems, paths_.config_dir);
  return problems;
}

std::vector<config_problem> validate(const fs::path& config_dir, const host_info& host,
                                     const std::map<std::string, std::string>& environment) {
  return config_store({config_dir, {}}, host).validate(environment);
}

std::vector<config_problem> validate(const fs::path& config_dir) {
  return validate(config_dir, detect_host(), current_environment());
}

std::vector<std::string> config_store::lima_pass_env() const {
  global_config global;
  load_global(paths_.config_dir / "config.toml", recipes(), global);
  return global.lima_pass_env;
}

}  // namespace dvm::v0
