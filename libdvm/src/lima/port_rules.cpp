#include "lima/port_rules.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <type_traits>
#include <variant>

namespace dvm::inline v0::detail {

filled_port_rule fill_defaults(const lima_port_rule& rule) {
  // upstream/pkg/limayaml/defaults.go:991-1041, in the same order.
  filled_port_rule out;
  out.proto = rule.proto.empty() ? "any" : rule.proto;
  if (rule.guest_ip) {
    out.guest_ip = *rule.guest_ip;
  } else {
    out.guest_ip = rule.guest_ip_must_be_zero.value_or(false) ? "0.0.0.0" : "127.0.0.1";
  }
  out.guest_ip_must_be_zero = rule.guest_ip_must_be_zero.value_or(out.guest_ip == "0.0.0.0");
  out.host_ip = rule.host_ip.value_or("127.0.0.1");
  out.guest_port_range = rule.guest_port_range;
  if (out.guest_port_range == std::array<int, 2>{0, 0}) {
    out.guest_port_range = rule.guest_port == 0 ? std::array<int, 2>{1, 65535}
                                                : std::array<int, 2>{rule.guest_port, rule.guest_port};
  }
  out.guest_socket = rule.guest_socket;
  out.host_socket = rule.host_socket;
  out.host_port_range = rule.host_port_range;
  if (rule.host_socket.empty() && out.host_port_range == std::array<int, 2>{0, 0}) {
    out.host_port_range = rule.host_port == 0 ? out.guest_port_range
                                              : std::array<int, 2>{rule.host_port, rule.host_port};
  }
  out.reverse = rule.reverse;
  out.ignore = rule.ignore;
  out.is_static = rule.is_static;
  return out;
}

std::vector<lima_port_rule> dvm_port_rules(const vm_config& vm) {
  std::vector<lima_port_rule> rules;
  for (const auto& p : vm.ports) {
    lima_port_rule r;
    r.guest_port = p.guest_port;
    r.host_port = p.host_port;
    r.host_ip = p.host_ip;
    r.proto = p.proto;
    rules.push_back(std::move(r));
  }
  // Lima forwards every guest listener on 127.0.0.1/::1 unless told not to (the implicit default
  // rule, upstream/pkg/hostagent/port.go:47-50). A listener on 0.0.0.0 or :: matches only the
  // first rule; one on 127.0.0.1 or ::1 is matched by the second (forward.go:112-127).
  lima_port_rule any;
  any.guest_ip = "0.0.0.0";
  any.guest_ip_must_be_zero = true;
  any.guest_port_range = {1, 65535};
  any.proto = "any";
  any.ignore = true;
  rules.push_back(any);
  lima_port_rule loopback;
  loopback.guest_ip = "127.0.0.1";
  loopback.guest_port_range = {1, 65535};
  loopback.proto = "any";
  loopback.ignore = true;
  rules.push_back(loopback);
  return rules;
}

namespace {

// The fields of a rule as dvm writes them, in order.
using rule_value = std::variant<bool, int, std::string, std::array<int, 2>>;
std::vector<std::pair<std::string, rule_value>> written_fields(const lima_port_rule& rule) {
  std::vector<std::pair<std::string, rule_value>> out;
  if (rule.guest_ip) out.emplace_back("guestIP", *rule.guest_ip);
  if (rule.guest_ip_must_be_zero) out.emplace_back("guestIPMustBeZero", *rule.guest_ip_must_be_zero);
  if (rule.guest_port != 0) out.emplace_back("guestPort", rule.guest_port);
  if (rule.guest_port_range != std::array<int, 2>{0, 0}) out.emplace_back("guestPortRange", rule.guest_port_range);
  if (!rule.guest_socket.empty()) out.emplace_back("guestSocket", rule.guest_socket);
  if (rule.host_port != 0) out.emplace_back("hostPort", rule.host_port);
  if (rule.host_port_range != std::array<int, 2>{0, 0}) out.emplace_back("hostPortRange", rule.host_port_range);
  if (rule.host_ip) out.emplace_back("hostIP", *rule.host_ip);
  if (!rule.host_socket.empty()) out.emplace_back("hostSocket", rule.host_socket);
  if (!rule.proto.empty()) out.emplace_back("proto", rule.proto);
  if (rule.reverse) out.emplace_back("reverse", true);
  if (rule.ignore) out.emplace_back("ignore", true);
  if (rule.is_static) out.emplace_back("static", true);
  return out;
}

}  // namespace

yaml::node port_rules_yaml(const vm_config& vm) {
  yaml::sequence rules;
  for (const auto& rule : dvm_port_rules(vm)) {
    yaml::mapping fields;
    for (auto& [key, value] : written_fields(rule)) {
      yaml::node v = std::visit(
          [](const auto& x) -> yaml::node {
            if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::array<int, 2>>) {
              yaml::node range = yaml::sequence{x[0], x[1]};
              range.flow = true;
              return range;
            } else {
              return yaml::node(x);
            }
          },
          value);
      fields.emplace_back(key, std::move(v));
    }
    rules.emplace_back(std::move(fields));
  }
  return rules;
}

std::string port_rules_json(const vm_config& vm) {
  boost::json::array rules;
  for (const auto& rule : dvm_port_rules(vm)) {
    boost::json::object fields;
    for (const auto& [key, value] : written_fields(rule)) {
      std::visit(
          [&fields, &key = key](const auto& x) {
            if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::array<int, 2>>) {
              fields[key] = boost::json::array{x[0], x[1]};
            } else {
              fields[key] = x;
            }
          },
          value);
    }
    rules.emplace_back(std::move(fields));
  }
  return boost::json::serialize(rules);
}

std::string describe(const filled_port_rule& rule) {
  auto range = [](const std::array<int, 2>& r) {
    return r[0] == r[1] ? std::to_string(r[0]) : std::to_string(r[0]) + "-" + std::to_string(r[1]);
  };
  std::string guest = rule.guest_socket.empty()
                          ? rule.guest_ip + ":" + range(rule.guest_port_range) + "/" + rule.proto
                          : "socket " + rule.guest_socket;
  std::string text = (rule.ignore ? "ignore guest " : "guest ") + guest;
  if (!rule.ignore) {
    text += " -> host " + (rule.host_socket.empty() ? rule.host_ip + ":" + range(rule.host_port_range)
                                                     : "socket " + rule.host_socket);
  }
  if (rule.is_static) text += " (static)";
  if (rule.reverse) text += " (reverse)";
  return text;
}

}  // namespace dvm::v0::detail
