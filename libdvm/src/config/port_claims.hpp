// Host ports across VMs: which configured VM claims which host ip:port/proto, the clashes
// between VMs (sync refuses them, doctor reports them), and the free host port `dvm init` picks.
//
// Two VMs cannot both bind one host address: whichever host agent listens first gets it, and the
// other VM's port is not forwarded, which does not fail its `limactl start` (a static forward that
// cannot be set up is a warning, upstream/pkg/hostagent/hostagent.go:861-863). Lima listens on
// hostIP as given (upstream/pkg/portfwd/forward.go:145-158 builds the host address from
// rule.HostIP; static rules become `ssh -L hostIP:port:...`, hostagent.go:849-866), so 0.0.0.0 --
// every IPv4 address -- overlaps every other address, and two different specific addresses
// (127.0.0.1 and 127.0.0.2) do not. dvm accepts only IPv4 host addresses, so IPv6 never comes up.
#pragma once

#include <dvm/config.hpp>
#include <dvm/ports.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// One host binding of one configured VM.
struct port_claim {
  std::string vm;
  std::filesystem::path file;  ///< the VM's file
  std::size_t index = 0;       ///< ports[index]
  port_forward rule;
};

/// The claims of one loaded VM, in config order.
std::vector<port_claim> claims_of(const vm_config& vm);

/// The claims of every configured VM except `except`. A VM file that does not load is skipped
/// (its own sync or doctor run reports it).
std::vector<port_claim> other_vms_claims(const config_store& store, std::string_view except);

/// Two claims of different VMs on one host address.
struct port_clash {
  port_claim ours;
  port_claim theirs;
};

/// Every pair of `ours` and `theirs` whose host bindings overlap (dvm::host_bindings_conflict:
/// same proto and host port, same IP or either one 0.0.0.0).
std::vector<port_clash> find_port_clashes(const std::vector<port_claim>& ours,
                                          const std::vector<port_claim>& theirs);

/// "host port 127.0.0.1:3000/tcp: ports[0] of VM app (/c/vms/app.toml, 127.0.0.1:3000->3000/tcp)
/// and ports[1] of VM web (/c/vms/web.toml, 0.0.0.0:3000->8080/tcp) both bind it".
std::string describe(const port_clash& clash);

/// The first host port from `rule.host_port` up that no claim in `taken` binds for rule.proto on
/// any address, or 0 when there is none. Any address: a template's rule takes its IP from
/// host_ip, which [defaults] may set to 0.0.0.0.
std::uint16_t free_host_port(const port_forward& rule, const std::vector<port_claim>& taken);

/// A rendered `dvm init` template whose `ports = [...]` host ports are moved to free ones.
struct spread_ports_result {
  std::string text;
  std::vector<std::string> notes;  ///< one per moved rule, for a warning event
};

/// Moves every "host:guest" / "ip:host:guest" rule on the template's `ports = [...]` line whose
/// host port another VM binds to the next free port (free_host_port), and updates the
/// "http://127.0.0.1:PORT" mentions of it in comments. `file` names the new VM file in notes.
spread_ports_result spread_template_ports(std::string text, const std::vector<port_claim>& taken,
                                          const std::filesystem::path& file);

}  // namespace dvm::v0::detail
