// The `ports` key: each rule checked on its own (phase 1), then, with host_ip known, the rules
// checked against each other (phase 3).
#include "config/loader_internal.hpp"

#include <dvm/error.hpp>

#include <algorithm>

namespace dvm::inline v0::config_detail {

namespace {

constexpr std::array<std::string_view, 4> port_keys = {"host", "guest", "ip", "proto"};

std::uint16_t port_number(const origin& at, const toml::node& node, std::string_view which) {
  const auto* n = node.as_integer();
  if (n == nullptr) wrong_type(at, node, "an integer port number");
  std::int64_t v = n->get();
  if (v < 1 || v > 65535) {
    fail(at, std::string(which) + " port " + std::to_string(v) + " is out of range 1..65535");
  }
  return static_cast<std::uint16_t>(v);
}

// Lima refuses 22 in every port field, host side included (upstream/pkg/limayaml/validate.go:651-659,
// called for guestPort, hostPort and both range ends at validate.go:307-345).
void check_not_ssh_port(const origin& at, std::uint16_t port, std::string_view which) {
  if (port == 22) {
    fail(at, std::string(which) + " port 22 is refused: Lima keeps port 22 for the guest's SSH and "
                                  "rejects it in any port field");
  }
}

raw_port parse_port_table(const fs::path& file, const toml::table& t, const origin& at) {
  raw_port port;
  port.where = at;
  bool has_host = false;
  bool has_guest = false;
  for (const auto& [key, node] : in_file_order(t)) {
    origin sub = origin_of(file, *node, at.key_path + "." + std::string(key->str()));
    if (key->str() == "host") {
      port.host = port_number(sub, *node, "host");
      check_not_ssh_port(sub, port.host, "host");
      has_host = true;
    } else if (key->str() == "guest") {
      port.guest = port_number(sub, *node, "guest");
      check_not_ssh_port(sub, port.guest, "guest");
      has_guest = true;
    } else if (key->str() == "ip") {
      std::string ip = get_string(sub, *node);
      if (!is_ipv4_literal(ip)) fail(sub, "\"" + ip + "\" is not an IPv4 literal such as 127.0.0.1");
      port.ip = ip;
    } else if (key->str() == "proto") {
      std::string proto = get_string(sub, *node);
      if (proto != "tcp" && proto != "udp") fail(sub, "\"" + proto + "\" must be \"tcp\" or \"udp\"");
      port.proto = proto;
    } else {
      unknown_key(file, *key, at.key_path, port_keys, "a port rule");
    }
  }
  if (!has_host) fail(at, "a port rule table needs host = <port>");
  if (!has_guest) fail(at, "a port rule table needs guest = <port>");
  return port;
}

raw_port parse_port_string(const origin& at, const std::string& text) {
  raw_port port;
  port.where = at;
  // parse_port_forward checks the syntax; the IP placeholder is replaced by host_ip later.
  port_forward rule;
  try {
    rule = parse_port_forward(text, "0.0.0.0");
  } catch (const error& e) {
    fail(at, e.what());
  }
  if (std::count(text.begin(), text.end(), ':') == 2) port.ip = rule.host_ip;
  port.host = rule.host_port;
  port.guest = rule.guest_port;
  check_not_ssh_port(at, port.host, "host");
  check_not_ssh_port(at, port.guest, "guest");
  return port;
}

// `rule` (from `p`) against the rules already accepted (`earlier`, from `sources`).
void check_port_against(const raw_port& p, const port_forward& rule,
                        const std::vector<port_forward>& earlier,
                        const std::vector<const raw_port*>& sources) {
  for (std::size_t j = 0; j < earlier.size(); ++j) {
    // Lima resolves a guest listener to the first rule for its port and protocol
    // (upstream/pkg/portfwd/forward.go:100-131); a second rule would never bind.
    if (earlier[j].guest_port == rule.guest_port && earlier[j].proto == rule.proto) {
      fail(p.where, "guest port " + std::to_string(rule.guest_port) + "/" + rule.proto +
                        " is already forwarded by " + sources[j]->where.key_path + " (" +
                        to_string(earlier[j]) +
                        "); Lima uses only the first rule for a guest port, so each guest port "
                        "can have one host binding");
    }
    if (host_bindings_conflict(earlier[j], rule)) {
      fail(p.where, "host binding " + rule.host_ip + ":" + std::to_string(rule.host_port) + "/" +
                        rule.proto + " conflicts with " + sources[j]->where.key_path + " (" +
                        to_string(earlier[j]) + ")");
    }
  }
}

}  // namespace

std::vector<raw_port> parse_port_list(const fs::path& file, const toml::node& node, const origin& at) {
  const auto* arr = node.as_array();
  if (arr == nullptr) wrong_type(at, node, "an array of port rules");
  std::vector<raw_port> ports;
  for (std::size_t i = 0; i < arr->size(); ++i) detail::keep_going([&] {  // (validate: each rule)
    const toml::node& el = *arr->get(i);
    origin sub = origin_of(file, el, at.key_path + "[" + std::to_string(i) + "]");
    if (const auto* s = el.as_string()) {
      ports.push_back(parse_port_string(sub, s->get()));
    } else if (const auto* t = el.as_table()) {
      ports.push_back(parse_port_table(file, *t, sub));
    } else {
      wrong_type(sub, el, "a string such as \"3000:3000\" or a table {host = 3000, guest = 3000}");
    }
  });
  return ports;
}

void merge_ports(const settings& vm, const settings& defaults, vm_config& out) {
  const auto& host_ip = pick(vm.host_ip, defaults.host_ip);
  out.host_ip = host_ip.value.value_or("127.0.0.1");
  const auto& ports = pick(vm.ports, defaults.ports);
  if (!ports.value) return;
  std::vector<const raw_port*> sources;
  for (const auto& p : *ports.value) {
    port_forward rule{p.ip.value_or(out.host_ip), p.host, p.guest, p.proto};
    if (!detail::keep_going([&] { check_port_against(p, rule, out.ports, sources); })) continue;
    out.ports.push_back(rule);
    sources.push_back(&p);
  }
}

}  // namespace dvm::v0::config_detail
