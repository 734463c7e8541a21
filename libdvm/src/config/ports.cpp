// Port-forward rules: the string form "host:guest" / "ip:host:guest", validation, diff.
#include <dvm/error.hpp>
#include <dvm/ports.hpp>

#include <algorithm>

namespace dvm::inline v0 {

namespace {
[[noreturn]] void bad_rule(std::string why) { throw error(errc::config, std::move(why)); }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::uint16_t parse_port(std::string_view text, std::string_view which) {
  std::string label(which);
  if (!all_digits(text)) {
    bad_rule(label + " port \"" + std::string(text) + "\" is not a number in 1..65535");
  }
  if (text.size() > 1 && text[0] == '0') {
    bad_rule(label + " port \"" + std::string(text) + "\" has a leading zero");
  }
  if (text.size() > 5) bad_rule(label + " port " + std::string(text) + " is out of range 1..65535");
  unsigned long value = std::stoul(std::string(text));
  if (value < 1 || value > 65535) {
    bad_rule(label + " port " + std::string(text) + " is out of range 1..65535");
  }
  return static_cast<std::uint16_t>(value);
}
}  // namespace

bool is_ipv4_literal(std::string_view text) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    std::size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && text[start] == '0')) return false;
    ++parts;
    if (i == text.size()) break;
    if (text[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

std::string to_string(const port_forward& rule) {
  return rule.host_ip + ':' + std::to_string(rule.host_port) + "->" +
         std::to_string(rule.guest_port) + '/' + rule.proto;
}

port_forward parse_port_forward(std::string_view text, std::string_view default_ip) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    std::size_t colon = text.find(':', start);
    fields.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (fields.size() < 2 || fields.size() > 3) {
    bad_rule("\"" + std::string(text) +
             "\" is not a port rule: use \"host:guest\" or \"ip:host:guest\", e.g. \"3000:3000\"");
  }
  port_forward rule;
  rule.host_ip = std::string(fields.size() == 3 ? fields[0] : default_ip);
  if (!is_ipv4_literal(rule.host_ip)) {
    bad_rule("host IP \"" + rule.host_ip + "\" is not an IPv4 literal such as 127.0.0.1");
  }
  rule.host_port = parse_port(fields[fields.size() - 2], "host");
  rule.guest_port = parse_port(fields.back(), "guest");
  return rule;
}

bool host_bindings_conflict(const port_forward& a, const port_forward& b) noexcept {
  if (a.proto != b.proto || a.host_port != b.host_port) return false;
  return a.host_ip == b.host_ip || a.host_ip == "0.0.0.0" || b.host_ip == "0.0.0.0";
}

port_forward_diff diff(const std::vector<port_forward>& current,
                       const std::vector<port_forward>& wanted) {
  port_forward_diff out;
  for (const auto& rule : wanted) {
    if (std::find(current.begin(), current.end(), rule) == current.end()) out.added.push_back(rule);
  }
  for (const auto& rule : current) {
    if (std::find(wanted.begin(), wanted.end(), rule) == wanted.end()) out.removed.push_back(rule);
  }
  return out;
}

}  // namespace dvm::v0
