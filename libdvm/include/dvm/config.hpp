// Configuration: where it lives, the validated model of one VM, loading and rendering.
//
//   $DVM_CONFIG (default $XDG_CONFIG_HOME/dvm, else ~/.config/dvm)
//     config.toml        optional [defaults] (any per-VM key) and [recipe_sets]
//     vms/<name>.toml    one file per VM
//     recipes/<name>.sh  user recipes (override bundled ones)
#pragma once

#include <dvm/export.hpp>
#include <dvm/ports.hpp>
#include <dvm/recipes.hpp>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvm::inline v0 {

/// Facts about the host that defaults depend on. Detected by detect_host(); tests and
/// embedders may pass their own.
struct host_info {
  std::string os = "linux";    ///< "linux" or "darwin"
  std::string arch = "x86_64"; ///< "x86_64" or "aarch64"
  unsigned cpus = 1;
  std::uint64_t memory_bytes = 0;
  std::string login_name;      ///< the host user's login name ("" when unknown)
};
DVM_EXPORT host_info detect_host();

/// Where config and state live. `environment` maps variable names to values (normally the
/// process environment); DVM_CONFIG, XDG_CONFIG_HOME, DVM_STATE, XDG_STATE_HOME and HOME are read
/// (a relative XDG_* value is ignored, as the XDG spec asks).
struct paths {
  std::filesystem::path config_dir;
  /// Locks and caches, never secrets. Created with mode 0700 on first use; dvm refuses one that
  /// is not owned by the effective user or that its group or others can write to, and never
  /// follows a symbolic link inside it (dvm::error, errc::io, naming the path and the rule).
  std::filesystem::path state_dir;
};
/// Throws dvm::error(errc::usage) when HOME is needed (DVM_CONFIG or DVM_STATE unset, with no
/// absolute XDG_* value) and not set.
DVM_EXPORT paths resolve_paths(const std::map<std::string, std::string>& environment);
/// This process's environment as a map (the default of client_options::environment).
DVM_EXPORT std::map<std::string, std::string> current_environment();

/// The validated configuration of one VM: config.toml [defaults] merged with vms/<name>.toml.
struct vm_config {
  std::string name;                 ///< public name, e.g. "app"
  std::filesystem::path file;       ///< vms/<name>.toml
  int cpus = 2;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  std::string arch = "default";     ///< "default", "x86_64" or "aarch64"
  std::string vm_type;              ///< "vz" or "qemu"
  std::string image;                ///< Lima base template locator
  std::string user;                 ///< guest user
  std::string code_dir;             ///< guest path, absolute or "~/..." (expanded in the guest)
  std::string host_ip = "127.0.0.1";
  std::vector<port_forward> ports;  ///< canonical rules, in config order
  bool baseline = true;
  std::vector<std::string> recipes; ///< sets expanded, duplicates removed, first position wins
  std::string agent_user = "dvm-agent";
  std::vector<std::string> secrets; ///< host environment variable names
  std::vector<std::pair<std::string, std::string>> env;  ///< [env], sorted by key, values as text
  std::vector<std::string> warnings;  ///< non-fatal findings (e.g. more CPUs than the host has)

  /// "dvm-<name>".
  std::string instance_name() const { return "dvm-" + name; }
  /// The guest home ("/home/<user>").
  std::string guest_home() const { return "/home/" + user; }
};

/// Sizes: "<number>[.<fraction>]<unit>" with unit KiB MiB GiB TiB, K M G T (binary, as Lima), or
/// no unit for bytes; > 0. Throws dvm::error(errc::config) naming the rule.
DVM_EXPORT std::uint64_t parse_size(std::string_view text);
/// The shortest exact form: "2GiB", "1536MiB", "1000".
DVM_EXPORT std::string format_size(std::uint64_t bytes);

/// Every Lima instance dvm manages is called instance_prefix + the VM name ("dvm-app").
inline constexpr std::string_view instance_prefix = "dvm-";
/// VM names: [a-z][a-z0-9-]*, at most 30 characters, no trailing '-'.
DVM_EXPORT bool is_valid_vm_name(std::string_view name) noexcept;
/// Accepts "app" or "dvm-app" and returns "app"; throws dvm::error(errc::usage) otherwise.
DVM_EXPORT std::string normalize_vm_name(std::string_view name_or_instance);
/// Linux user names: [a-z_][a-z0-9_-]*, at most 32 characters.
DVM_EXPORT bool is_valid_user_name(std::string_view name) noexcept;
/// Secret names (`secrets = [...]`, a recipe's `# Secret:` line, the guest's frame headers):
/// environment variable names [A-Z_][A-Z0-9_]*.
DVM_EXPORT bool is_valid_secret_name(std::string_view name) noexcept;
/// `[env]` keys (and a recipe's `# Service: ... env=KEY`): [A-Z][A-Z0-9_]*.
DVM_EXPORT bool is_valid_env_key(std::string_view key) noexcept;

/// How serious a finding of dvm::validate is: an error stops every command that loads the VM
/// (exit 2); a warning is shown and the command goes on.
enum class severity { error, warning };
DVM_EXPORT std::string_view to_string(severity level) noexcept;  ///< "error", "warning"
DVM_EXPORT std::ostream& operator<<(std::ostream& out, severity level);

/// One finding of dvm::validate, located as a config_error is.
struct config_problem {
  std::filesystem::path file;  ///< the file; empty for the environment (DVM_TIMEOUT)
  int line = 0;                ///< 1-based; 0 when the finding is about the whole file
  int column = 0;              ///< 1-based; 0 when unknown
  std::string key_path;        ///< e.g. "ports[1]", "defaults.cpus"; "" for the whole file
  std::string rule;            ///< the rule broken, without the location
  dvm::severity severity = dvm::severity::error;
  std::string vm;              ///< the VM whose check found it; "" for config.toml, recipes, env
};
/// "<file>:<line>:<column>: <key path>: <rule>", as config_error::what() reads (the parts that
/// are unknown left out).
DVM_EXPORT std::string to_string(const config_problem& problem);

/// Loads and validates config files. Cheap to construct; reads files on demand.
class DVM_EXPORT config_store {
 public:
  config_store(paths where, host_info host);

  const paths& location() const noexcept { return paths_; }
  const host_info& host() const noexcept { return host_; }
  std::filesystem::path vm_file(std::string_view name) const;

  /// Names of the VMs with a file in vms/ (sorted). Files whose name is not a valid VM name are
  /// skipped.
  std::vector<std::string> vm_names() const;
  bool has_vm(std::string_view name) const;

  /// Loads one VM. Throws dvm::error(errc::not_found) when vms/<name>.toml does not exist and
  /// dvm::config_error when config.toml or the VM file does not validate.
  vm_config load(std::string_view name) const;

  /// The recipe catalog (bundled + $DVM_CONFIG/recipes). Loaded on first use; safe to call
  /// from several threads.
  const recipe_catalog& recipes() const;

  /// `[lima] pass_env` of config.toml: host variables limactl gets besides its built-in
  /// allowlist. Throws dvm::config_error when config.toml does not validate.
  std::vector<std::string> lima_pass_env() const;

  /// dvm::validate() of this store's config dir, for its host.
  std::vector<config_problem> validate(const std::map<std::string, std::string>& environment) const;

 private:
  struct lazy_catalog;
  paths paths_;
  host_info host_;
  std::shared_ptr<lazy_catalog> recipes_;  // shared by copies of this store
};

/// Checks every file of a config dir and returns every problem at once, errors and warnings, in
/// file order (config.toml, then recipes/, then vms/ by name; by line and column within a file).
/// Never throws for what it finds (only std::bad_alloc). Besides the rules config_store::load
/// enforces, it warns about what would otherwise go unnoticed: a vms/*.toml whose name is not a
/// VM name (dvm ignores it), a host port below 1024 on Linux, a disk too small for a cloud
/// image, a vm_type this host cannot run, an unparsable DVM_TIMEOUT in `environment`.
DVM_EXPORT std::vector<config_problem> validate(const std::filesystem::path& config_dir,
                                                const host_info& host,
                                                const std::map<std::string, std::string>& environment);
/// The same for this host and this process's environment.
DVM_EXPORT std::vector<config_problem> validate(const std::filesystem::path& config_dir);

/// True for environment variable names that look like they hold a secret ("GITHUB_TOKEN",
/// "DB_PASS", "AWS_CREDENTIALS"): such names are refused in [env] and never passed to limactl.
DVM_EXPORT bool is_secret_looking_name(std::string_view name) noexcept;

/// The Lima instance config (lima.yaml) for a VM, rendered with a structured emitter.
DVM_EXPORT std::string render_lima_yaml(const vm_config& vm);

}  // namespace dvm::v0
