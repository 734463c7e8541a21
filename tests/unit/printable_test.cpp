// libdvm's enums and printable types: every value has its own name, to_string and operator<<
// agree, and a VM state comes from Lima's word for it.
#include <doctest/doctest.h>

#include <dvm/client.hpp>
#include <dvm/error.hpp>
#include <dvm/events.hpp>
#include <dvm/ports.hpp>

#include "lima/instance.hpp"

#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

template <class T>
std::string printed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Each value prints as its to_string, and no two values share a name.
template <class Enum>
void check_names(const std::vector<Enum>& all, const std::vector<std::string>& names) {
  REQUIRE(all.size() == names.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(std::string(to_string(all[i])) == names[i]);
    CHECK(printed(all[i]) == names[i]);
    seen.insert(names[i]);
  }
  CHECK(seen.size() == all.size());
}

}  // namespace

TEST_CASE("enum names: to_string and operator<< agree, one name per value") {
  using dvm::vm_state;
  check_names<vm_state>({vm_state::absent, vm_state::unknown, vm_state::uninitialized, vm_state::installing,
                         vm_state::broken, vm_state::stopped, vm_state::running},
                        {"absent", "Unknown", "Uninitialized", "Installing", "Broken", "Stopped", "Running"});
  using dvm::doctor_status;
  check_names<doctor_status>({doctor_status::ok, doctor_status::warning, doctor_status::problem},
                             {"ok", "warning", "problem"});
  using dvm::stop_action;
  check_names<stop_action>({stop_action::stopped, stop_action::skipped, stop_action::failed},
                           {"stopped", "skipped", "failed"});
  CHECK(printed(dvm::event_kind::recipe_failed) == "recipe_failed");
  CHECK(to_string(dvm::event_kind::sync_finished) == dvm::event_kind_name(dvm::event_kind::sync_finished));
  CHECK(printed(dvm::errc::not_running) == "not_running");
  CHECK(to_string(dvm::errc::usage) == dvm::errc_name(dvm::errc::usage));
}

TEST_CASE("a VM state is read from Lima's status word (upstream/pkg/limatype/lima_instance.go:17-24)") {
  using dvm::vm_state;
  for (vm_state s : {vm_state::uninitialized, vm_state::installing, vm_state::broken, vm_state::stopped,
                     vm_state::running}) {
    CHECK(dvm::detail::state_of(to_string(s)) == s);  // the round trip
  }
  CHECK(dvm::detail::state_of("") == vm_state::unknown);         // StatusUnknown
  CHECK(dvm::detail::state_of("Paused") == vm_state::unknown);   // a status this dvm does not know
  CHECK(dvm::detail::state_of("running") == vm_state::unknown);  // Lima's words are case-sensitive
}

TEST_CASE("ports and VMs print as dvm shows them") {
  dvm::port_forward p;
  p.host_port = 3000;
  p.guest_port = 3001;
  CHECK(printed(p) == "127.0.0.1:3000->3001/tcp");
  CHECK(printed(p) == dvm::to_string(p));
  dvm::vm_status vm;
  vm.name = "app";
  CHECK(printed(vm) == "app: absent");
  vm.state = dvm::vm_state::running;
  vm.ssh_address = "127.0.0.1:60022";
  CHECK(printed(vm) == "app: Running, ssh 127.0.0.1:60022");
}
