// Lima's portForwards rules: the ones dvm writes, and the ones Lima reports back, compared after
// Lima's own defaults are filled in (upstream/pkg/limayaml/defaults.go:991-1041).
#pragma once

#include <dvm/config.hpp>

#include "lima/yaml.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace dvm::inline v0::detail {

/// One portForwards entry as written in YAML or reported in `limactl list --json` `config`.
/// Unset optional fields take Lima's defaults in fill_defaults.
struct lima_port_rule {
  std::optional<std::string> guest_ip;
  std::optional<bool> guest_ip_must_be_zero;
  int guest_port = 0;
  std::array<int, 2> guest_port_range{0, 0};
  std::string guest_socket;
  std::optional<std::string> host_ip;
  int host_port = 0;
  std::array<int, 2> host_port_range{0, 0};
  std::string host_socket;
  std::string proto;  ///< "" reads as "any"
  bool reverse = false;
  bool ignore = false;
  bool is_static = false;
};

/// A rule after FillPortForwardDefaults: what Lima's forwarders act on.
struct filled_port_rule {
  std::string guest_ip;
  bool guest_ip_must_be_zero = false;
  std::array<int, 2> guest_port_range{0, 0};
  std::string guest_socket;
  std::string host_ip;
  std::array<int, 2> host_port_range{0, 0};
  std::string host_socket;
  std::string proto;
  bool reverse = false;
  bool ignore = false;
  bool is_static = false;
  bool operator==(const filled_port_rule&) const = default;
};

filled_port_rule fill_defaults(const lima_port_rule& rule);

/// The rules dvm gives every instance: each configured port, forwarded dynamically (Lima's
/// default gRPC forwarder handles TCP and UDP and listeners on 0.0.0.0, ::, 127.0.0.1 and ::1,
/// upstream/pkg/portfwd/forward.go:100-131; `static` rules would be TCP-only SSH forwards that
/// also switch off dynamic forwarding of their port for every protocol, forward.go:133-143 and
/// upstream/pkg/hostagent/port.go:90-94), then two catch-all ignore rules so that no other
/// guest listener reaches the host.
std::vector<lima_port_rule> dvm_port_rules(const vm_config& vm);

/// dvm_port_rules(vm), written for lima.yaml (a block sequence for the YAML emitter) and for
/// `limactl edit --set` (a JSON array, which yq reads as a YAML flow value): the same fields in
/// the same order, from one list.
yaml::node port_rules_yaml(const vm_config& vm);
std::string port_rules_json(const vm_config& vm);

/// "guest 127.0.0.1:3000/tcp -> host 127.0.0.1:3000", "ignore guest 0.0.0.0:1-65535/any", ...
std::string describe(const filled_port_rule& rule);

}  // namespace dvm::v0::detail
