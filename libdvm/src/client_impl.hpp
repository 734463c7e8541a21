// dvm::client's private state, shared by the client_*.cpp files (one per command group).
// The client only orchestrates: parsing, quoting, rendering and limactl details live in
// config/, guest/ and lima/.
#pragma once

#include <dvm/client.hpp>

#include "guest/program.hpp"
#include "lima/driver.hpp"

#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace dvm::inline v0 {

// Hidden: the client class is exported, and its nested classes would be too (the ABI is
// client.hpp, not this).
struct __attribute__((visibility("hidden"))) client::impl {
  explicit impl(client_options options);

  std::map<std::string, std::string> env;
  paths where;
  config_store store;
  detail::lima_context lima;  // its environment is set by the first driver()
  std::once_flag lima_environment_once;
  event_sink sink;
  std::mutex sink_mutex;
  const cancel_token* cancel = nullptr;

  void emit(event e);
  void warn(const std::string& vm, const std::string& message);
  detail::lima_driver driver(const std::string& vm);
  /// Where Lima looks up `template:NAME`: $LIMA_TEMPLATES_PATH, else $LIMA_HOME/_templates and
  /// <prefix>/share/lima/templates beside the limactl on PATH.
  std::vector<std::filesystem::path> template_dirs() const;
  std::string env_value(const std::string& name) const;
  std::filesystem::path lima_home() const;

  /// A configured VM whose instance exists and is running (started if stopped). Throws
  /// not_created when Lima does not know it.
  struct running_vm {
    vm_config config;
    detail::instance_info info;
  };
  running_vm require_running(detail::lima_driver& d, const std::string& name);
  /// The instance of VM `name` as Lima lists it; throws not_found / not_created when there is
  /// none (stop, start, restart, ssh-config).
  detail::instance_info existing_instance(detail::lima_driver& d, const std::string& name);
  /// Boots a stopped (or Broken: stopped first) instance, with its vm_starting event.
  void boot(detail::lima_driver& d, const std::string& name, detail::instance_info& info);

  /// Runs the script built for VM `name` (started if stopped) and returns its stdout; a non-zero
  /// exit is a guest_failed error that starts with `what`.
  std::string run_guest_script(const std::string& name,
                               const std::function<std::string(const vm_config&)>& script,
                               const std::string& what);

  /// Runs a guest script (stdin of `/bin/bash -p -s`), capturing its output.
  process_result run_script(detail::lima_driver& d, const std::string& instance,
                            const std::string& script, std::chrono::milliseconds timeout);

  // sync (client_sync.cpp)
  struct staged_secrets {
    secret_map values;
    std::vector<detail::named_secret> list() const;
  };
  /// The secrets a sync stages. With require_listed, a listed secret that is not set is an error.
  staged_secrets collect_secrets(const vm_config& vm, secret_map direct, bool require_listed) const;
  /// The names of the secrets a sync started now would stage (the listed ones, set or not).
  std::vector<std::string> secret_names_to_stage(const vm_config& vm) const;
  /// Each recipe of `vm` against the records in its running guest (one limactl shell; read
  /// only). No driver, or a failed read (a warning says why), gives unknown.
  std::vector<recipe_state> recipe_states(detail::lima_driver* running, const vm_config& vm);
  /// `from_sync_all`: options.recipes may name recipes this VM does not run (another VM does).
  sync_result sync_one(const std::string& name, sync_options options, bool from_sync_all = false);
  /// Creates, or reconciles and (re)starts, the instance of `vm` so that it runs as configured.
  void bring_up(detail::lima_driver& d, const vm_config& vm, bool restart, sync_result& result);
  /// Runs the guest program (one limactl call) and records each recipe in `result`; throws
  /// guest_failed naming the step that failed.
  void run_sync_program(detail::lima_driver& d, const vm_config& vm, staged_secrets staged,
                        const detail::run_selection& selection, sync_result& result);
  /// A rendered `dvm init` template for VM `name`, with each host port that another configured
  /// VM forwards moved to the next free one; `notes` gets one line per move (for warnings).
  std::string with_free_host_ports(const std::string& name, std::string text, const std::filesystem::path& file,
                                   std::vector<std::string>& notes) const;

  /// What the activity probe (guest/scripts.hpp, activity_probe_script) found in a running VM.
  struct activity {
    bool in_use = false;   ///< a shell, tmux/zellij or an active service unit
    bool failed = false;   ///< the probe itself did not give a verdict
    std::string reason;    ///< "tmux dvm-llama.service", or why the probe failed
  };
  /// Probes a running instance for shells, tmux/zellij and the catalog's service units (each
  /// recipe's `# Service:` default), plus the names `vm`'s [env] gives them (vm may be null: an
  /// instance without a config file).
  activity probe_activity(detail::lima_driver& d, const vm_config* vm, const std::string& instance);
};

/// The recipes a sync of `vm` runs, in order: the baseline (unless turned off), then its list.
/// Unknown names (a config loaded before a user recipe was removed) are left out.
std::vector<const recipe*> recipes_run_by(const vm_config& vm, const recipe_catalog& catalog);

/// The unit a `# Service:` line names in `vm`: its [env] key's value when set, else the default.
std::string service_unit_in(const recipe_service& service, const vm_config& vm);

/// The limactl instance name for a public name ("app" -> "dvm-app").
inline std::string instance_of(const std::string& name) { return std::string(instance_prefix) + name; }

/// The public name of a DVM instance ("dvm-app" -> "app"); "" for every other Lima instance.
inline std::string public_name(const std::string& instance) {
  if (!instance.starts_with(instance_prefix)) return {};
  std::string name = instance.substr(instance_prefix.size());
  return is_valid_vm_name(name) ? name : std::string();
}

}  // namespace dvm::v0
