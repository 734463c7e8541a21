// Port forwarding rules: parsing, validation, canonical form and difference.
#pragma once

#include <dvm/export.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0 {

/// One forwarded port: host_ip:host_port on the host -> guest_port in the guest.
struct port_forward {
  std::string host_ip = "127.0.0.1";  ///< IPv4 literal the host listener binds to
  std::uint16_t host_port = 0;
  std::uint16_t guest_port = 0;
  std::string proto = "tcp";  ///< "tcp" or "udp"

  friend bool operator==(const port_forward&, const port_forward&) = default;
};

/// "127.0.0.1:3000->3000/tcp".
DVM_EXPORT std::string to_string(const port_forward& rule);
/// Prints to_string(rule).
DVM_EXPORT std::ostream& operator<<(std::ostream& out, const port_forward& rule);

/// Parses "host:guest" (bound to default_ip) or "ip:host:guest". Throws dvm::error(errc::config)
/// naming the rule that is broken: ports are 1..65535 without leading zeros, the IP is an IPv4
/// literal.
DVM_EXPORT port_forward parse_port_forward(std::string_view text, std::string_view default_ip);

/// Checks an IPv4 literal ("127.0.0.1"): four decimal octets 0..255, no leading zeros.
DVM_EXPORT bool is_ipv4_literal(std::string_view text) noexcept;

/// True when two rules cannot both bind on the host: same protocol and host port, and the same
/// IP or either one binding every interface (0.0.0.0).
DVM_EXPORT bool host_bindings_conflict(const port_forward& a, const port_forward& b) noexcept;

/// Rules present in one set and not in the other (order-insensitive).
struct port_forward_diff {
  std::vector<port_forward> added;    ///< wanted but not current
  std::vector<port_forward> removed;  ///< current but not wanted
  bool empty() const noexcept { return added.empty() && removed.empty(); }
};
DVM_EXPORT port_forward_diff diff(const std::vector<port_forward>& current,
                                  const std::vector<port_forward>& wanted);

}  // namespace dvm::v0
