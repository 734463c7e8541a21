// The names of libdvm's enums (to_string) and the stream operators of its printable types, in
// one place: what the CLI prints, the JSON documents hold and Python's str enums equal.
#include <dvm/client.hpp>
#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/events.hpp>
#include <dvm/ports.hpp>

#include <ostream>

namespace dvm::inline v0 {

std::string_view to_string(vm_state state) noexcept {
  switch (state) {
    case vm_state::absent: return "absent";
    case vm_state::unknown: return "Unknown";
    case vm_state::uninitialized: return "Uninitialized";
    case vm_state::installing: return "Installing";
    case vm_state::broken: return "Broken";
    case vm_state::stopped: return "Stopped";
    case vm_state::running: return "Running";
  }
  return "Unknown";
}

std::string_view to_string(stop_action action) noexcept {
  switch (action) {
    case stop_action::stopped: return "stopped";
    case stop_action::skipped: return "skipped";
    case stop_action::failed: return "failed";
  }
  return "failed";
}

std::string_view to_string(doctor_status status) noexcept {
  switch (status) {
    case doctor_status::ok: return "ok";
    case doctor_status::warning: return "warning";
    case doctor_status::problem: return "problem";
  }
  return "problem";
}

std::string_view to_string(recipe_freshness f) noexcept {
  switch (f) {
    case recipe_freshness::unknown: return "unknown";
    case recipe_freshness::never_ran: return "never_ran";
    case recipe_freshness::changed: return "changed";
    case recipe_freshness::current: return "current";
    case recipe_freshness::current_unless_secrets_changed: return "current_unless_secrets_changed";
  }
  return "unknown";
}

std::string_view to_string(severity level) noexcept {
  return level == severity::warning ? "warning" : "error";
}

std::string_view to_string(event_kind kind) noexcept { return event_kind_name(kind); }
std::string_view to_string(errc code) noexcept { return errc_name(code); }

std::ostream& operator<<(std::ostream& out, vm_state state) { return out << to_string(state); }
std::ostream& operator<<(std::ostream& out, stop_action action) { return out << to_string(action); }
std::ostream& operator<<(std::ostream& out, doctor_status status) { return out << to_string(status); }
std::ostream& operator<<(std::ostream& out, severity level) { return out << to_string(level); }
std::ostream& operator<<(std::ostream& out, recipe_freshness f) { return out << to_string(f); }
std::ostream& operator<<(std::ostream& out, event_kind kind) { return out << to_string(kind); }
std::ostream& operator<<(std::ostream& out, errc code) { return out << to_string(code); }
std::ostream& operator<<(std::ostream& out, const port_forward& rule) { return out << to_string(rule); }

std::ostream& operator<<(std::ostream& out, const vm_status& vm) {
  out << vm.name << ": " << vm.state;
  if (!vm.ssh_address.empty()) out << ", ssh " << vm.ssh_address;
  return out;
}

}  // namespace dvm::v0
