// Progress events. libdvm never prints; it reports what it does as typed events to a callback.
#pragma once

#include <dvm/export.hpp>

#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0 {

/// What an event reports; the comment of each kind names the event fields it sets.
enum class event_kind {
  limactl_started,   ///< argv: the call (never holds a secret)
  limactl_finished,  ///< argv, exit_code, duration
  vm_creating,
  vm_starting,
  vm_stopping,
  vm_reconciling,    ///< message: what differs (e.g. "ports, cpus")
  vm_deleting,
  lima_progress,     ///< name: the limactl subcommand ("create", "start"); message: one of
                     ///< Lima's progress lines (its msg text); duration: since the call began
  guest_started,     ///< the guest program of a sync started
  recipe_started,    ///< name: the recipe
  recipe_finished,   ///< name, duration
  recipe_failed,     ///< name, exit_code, duration, message: the recipe's last output lines
  hook_started,      ///< the project hook <code_dir>/.dvm/sync.sh
  output,            ///< message: one line of guest output (stream: "stdout" or "stderr" in name)
  warning,           ///< message
  sync_finished,     ///< duration, exit_code (0 ok)
  recipe_skipped,    ///< name: a recipe not run because its fingerprint is unchanged
};

/// "limactl_started", "recipe_failed", ...
DVM_EXPORT std::string_view event_kind_name(event_kind kind) noexcept;
/// The same name (as to_string of dvm's other enums), and printed by operator<<.
DVM_EXPORT std::string_view to_string(event_kind kind) noexcept;
DVM_EXPORT std::ostream& operator<<(std::ostream& out, event_kind kind);

/// One progress event. Fields that do not apply to its kind are empty or zero.
struct event {
  event_kind kind = event_kind::warning;
  std::string vm;    ///< VM name without the dvm- prefix
  std::string name;  ///< recipe name, limactl subcommand, or output stream
  std::vector<std::string> argv;
  int exit_code = 0;
  std::chrono::milliseconds duration{0};
  std::string message;
};

/// Receives events. dvm::client serialises calls to it, even from sync_all's worker threads.
using event_sink = std::function<void(const event&)>;

}  // namespace dvm::v0
