// An instance's lima.yaml read back: parse_instance_yaml() returns settings or throws
// dvm::error(errc::io) for text that is not YAML, never anything else, and what it returns is in
// range (ports 1..65535, positive sizes).
#include "fuzz_target.hpp"

#include <dvm/error.hpp>
#include <dvm/ports.hpp>

#include "lima/instance.hpp"

DVM_FUZZ_TARGET(instance_yaml) {
  std::string_view text = dvm_fuzz::as_text(data, size);
  dvm::detail::instance_settings s;
  try {
    s = dvm::detail::parse_instance_yaml(text);
  } catch (const dvm::error& e) {
    DVM_FUZZ_CHECK(e.code() == dvm::errc::io);
    return 0;
  }
  DVM_FUZZ_CHECK(!s.memory_bytes || *s.memory_bytes > 0);
  DVM_FUZZ_CHECK(!s.disk_bytes || *s.disk_bytes > 0);
  for (const auto& p : s.ports) {
    DVM_FUZZ_CHECK(p.host_port >= 1 && p.guest_port >= 1);
  }
  return 0;
}
