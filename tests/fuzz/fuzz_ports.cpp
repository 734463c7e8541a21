// Port rules: parse_port_forward() accepts exactly "host:guest" / "ip:host:guest" with ports
// 1..65535 without leading zeros and a strict IPv4 literal (checked against inet_pton), throws
// only dvm::error(errc::config), and what it accepts prints and parses back to the same rule.
//
// Input: lines. The first line is the default IP; every other line is one rule text.
#include "fuzz_target.hpp"

#include <dvm/error.hpp>
#include <dvm/ports.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace {

bool reference_ipv4(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return false;
  in_addr addr{};
  // glibc's inet_pton: exactly four decimal octets 0..255, no leading zeros.
  return inet_pton(AF_INET, std::string(text).c_str(), &addr) == 1;
}

std::optional<std::uint16_t> reference_port(std::string_view t) {
  if (t.empty() || t.size() > 5 || (t.size() > 1 && t[0] == '0')) return std::nullopt;
  unsigned v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::optional<dvm::port_forward> reference(std::string_view text, std::string_view default_ip) {
  std::vector<std::string_view> f;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ':') {
      f.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (f.size() != 2 && f.size() != 3) return std::nullopt;
  dvm::port_forward r;
  r.host_ip = std::string(f.size() == 3 ? f[0] : default_ip);
  if (!reference_ipv4(r.host_ip)) return std::nullopt;
  auto host = reference_port(f[f.size() - 2]);
  auto guest = reference_port(f.back());
  if (!host || !guest) return std::nullopt;
  r.host_port = *host;
  r.guest_port = *guest;
  return r;
}

std::optional<dvm::port_forward> parse(std::string_view text, std::string_view default_ip) {
  try {
    return dvm::parse_port_forward(text, default_ip);
  } catch (const dvm::error& e) {
    DVM_FUZZ_CHECK(e.code() == dvm::errc::config);
    return std::nullopt;
  }
}

}  // namespace

DVM_FUZZ_TARGET(ports) {
  std::string_view input = dvm_fuzz::as_text(data, size);
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\n') {
      lines.push_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  std::string_view default_ip = lines.front();
  DVM_FUZZ_CHECK(dvm::is_ipv4_literal(default_ip) == reference_ipv4(default_ip));

  std::vector<dvm::port_forward> rules;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto got = parse(lines[i], default_ip);
    auto want = reference(lines[i], default_ip);
    DVM_FUZZ_CHECK_MSG(got.has_value() == want.has_value(), std::string(lines[i]));
    if (!got) continue;
    DVM_FUZZ_CHECK(*got == *want);
    DVM_FUZZ_CHECK(got->proto == "tcp");
    // The explicit form parses back to the same rule; to_string() names all of it.
    std::string explicit_form = got->host_ip + ":" + std::to_string(got->host_port) + ":" +
                                std::to_string(got->guest_port);
    DVM_FUZZ_CHECK(parse(explicit_form, "127.0.0.1") == got);
    DVM_FUZZ_CHECK(dvm::to_string(*got) == got->host_ip + ":" + std::to_string(got->host_port) +
                                              "->" + std::to_string(got->guest_port) + "/tcp");
    rules.push_back(*got);
  }
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (i % 2 == 1) rules[i].proto = "udp";
  }
  for (const auto& a : rules) {
    DVM_FUZZ_CHECK(dvm::host_bindings_conflict(a, a));
    for (const auto& b : rules) {
      DVM_FUZZ_CHECK(dvm::host_bindings_conflict(a, b) == dvm::host_bindings_conflict(b, a));
    }
  }
  // diff: what is added is wanted and not current, what is removed is current and not wanted.
  std::vector<dvm::port_forward> current(rules.begin(), rules.begin() + static_cast<std::ptrdiff_t>(rules.size() / 2));
  std::vector<dvm::port_forward> wanted(rules.begin() + static_cast<std::ptrdiff_t>(rules.size() / 3), rules.end());
  DVM_FUZZ_CHECK(dvm::diff(rules, rules).empty());
  auto d = dvm::diff(current, wanted);
  auto in = [](const std::vector<dvm::port_forward>& v, const dvm::port_forward& r) {
    return std::find(v.begin(), v.end(), r) != v.end();
  };
  for (const auto& r : d.added) DVM_FUZZ_CHECK(in(wanted, r) && !in(current, r));
  for (const auto& r : d.removed) DVM_FUZZ_CHECK(in(current, r) && !in(wanted, r));
  for (const auto& r : wanted) DVM_FUZZ_CHECK(in(current, r) || in(d.added, r));
  for (const auto& r : current) DVM_FUZZ_CHECK(in(wanted, r) || in(d.removed, r));
  return 0;
}
