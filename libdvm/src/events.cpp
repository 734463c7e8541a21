#include <dvm/events.hpp>

namespace dvm::inline v0 {

std::string_view event_kind_name(event_kind kind) noexcept {
  switch (kind) {
    case event_kind::limactl_started: return "limactl_started";
    case event_kind::limactl_finished: return "limactl_finished";
    case event_kind::vm_creating: return "vm_creating";
    case event_kind::vm_starting: return "vm_starting";
    case event_kind::vm_stopping: return "vm_stopping";
    case event_kind::vm_reconciling: return "vm_reconciling";
    case event_kind::vm_deleting: return "vm_deleting";
    case event_kind::lima_progress: return "lima_progress";
    case event_kind::guest_started: return "guest_started";
    case event_kind::recipe_started: return "recipe_started";
    case event_kind::recipe_finished: return "recipe_finished";
    case event_kind::recipe_failed: return "recipe_failed";
    case event_kind::hook_started: return "hook_started";
    case event_kind::output: return "output";
    case event_kind::warning: return "warning";
    case event_kind::sync_finished: return "sync_finished";
    case event_kind::recipe_skipped: return "recipe_skipped";
  }
  return "unknown";
}

}  // namespace dvm::v0
