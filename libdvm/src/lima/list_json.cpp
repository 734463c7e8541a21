// `limactl list --json`: one JSON object per line (never an array), nothing at all when there
// are no instances. Parsed with Boost.JSON.
#include "lima/instance.hpp"
#include "text/utf8.hpp"

#include <dvm/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <limits>

namespace dvm::inline v0::detail {

namespace {
namespace json = boost::json;

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

// A non-negative number that T can hold (a double is truncated); anything else reads as 0,
// "unknown", rather than as a wrapped value (or, for a double, undefined behaviour).
template <class T>
T number_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return T{};
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
  if (v->is_int64() && v->as_int64() >= 0 && static_cast<std::uint64_t>(v->as_int64()) <= max) {
    return static_cast<T>(v->as_int64());
  }
  if (v->is_uint64() && v->as_uint64() <= max) return static_cast<T>(v->as_uint64());
  // 2^64 and 2^31 are exact doubles; below them every double converts.
  constexpr double limit = static_cast<double>(max / 2 + 1) * 2.0;
  if (v->is_double() && v->as_double() >= 0 && v->as_double() < limit) {
    return static_cast<T>(v->as_double());
  }
  return T{};
}

// The start of a line limactl printed, safe to show on a terminal or in JSON: bytes that are
// control characters or not UTF-8 are written as \xHH.
std::string printable_excerpt(std::string_view line) {
  static constexpr char hex[] = "0123456789abcdef";
  line = line.substr(0, 120);
  std::string out;
  char32_t cp = 0;
  for (std::size_t i = 0; i < line.size();) {
    auto c = static_cast<unsigned char>(line[i]);
    std::size_t n = decode_utf8(line, i, cp);
    bool ok = n != 0 && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0);  // no C0/C1 controls
    if (!ok) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
      ++i;
      continue;
    }
    out.append(line.substr(i, n));
    i += n;
  }
  return out;
}

bool bool_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

std::array<int, 2> range_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array() || v->as_array().size() != 2) return {0, 0};
  const json::array& a = v->as_array();
  auto as_int = [](const json::value& x) { return x.is_int64() ? static_cast<int>(x.as_int64()) : 0; };
  return {as_int(a[0]), as_int(a[1])};
}

// `config` of a list record: Lima's LimaYAML after FillDefault (upstream/pkg/limatype/lima_yaml.go:
// 17-62 for the keys, 301-315 for a port rule).
effective_config parse_effective(const json::object& c) {
  effective_config out;
  out.present = true;
  auto objects = [&](std::string_view key) {
    std::vector<const json::object*> list;
    if (const json::value* v = c.if_contains(key); v && v->is_array()) {
      for (const auto& e : v->as_array()) {
        if (e.is_object()) list.push_back(&e.as_object());
      }
    }
    return list;
  };
  for (const json::object* r : objects("portForwards")) {
    lima_port_rule rule;
    if (r->contains("guestIP")) rule.guest_ip = string_at(*r, "guestIP");
    if (const json::value* z = r->if_contains("guestIPMustBeZero"); z && z->is_bool()) {
      rule.guest_ip_must_be_zero = z->as_bool();
    }
    rule.guest_port = number_at<int>(*r, "guestPort");
    rule.guest_port_range = range_at(*r, "guestPortRange");
    rule.guest_socket = string_at(*r, "guestSocket");
    if (r->contains("hostIP")) rule.host_ip = string_at(*r, "hostIP");
    rule.host_port = number_at<int>(*r, "hostPort");
    rule.host_port_range = range_at(*r, "hostPortRange");
    rule.host_socket = string_at(*r, "hostSocket");
    rule.proto = string_at(*r, "proto");
    rule.reverse = bool_at(*r, "reverse");
    rule.ignore = bool_at(*r, "ignore");
    rule.is_static = bool_at(*r, "static");
    out.port_forwards.push_back(std::move(rule));
  }
  for (const json::object* m : objects("mounts")) out.mounts.push_back(string_at(*m, "location"));
  if (const json::value* ssh = c.if_contains("ssh"); ssh && ssh->is_object()) {
    out.forward_agent = bool_at(ssh->as_object(), "forwardAgent");
  }
  for (const json::object* n : objects("networks")) {
    if (!string_at(*n, "lima").empty()) {
      out.networks.push_back("lima: " + string_at(*n, "lima"));
    } else if (!string_at(*n, "socket").empty()) {
      out.networks.push_back("socket: " + string_at(*n, "socket"));
    } else if (bool_at(*n, "vzNAT")) {
      out.networks.push_back("vzNAT");
    } else {
      out.networks.push_back(json::serialize(*n));
    }
  }
  for (const json::object* f : objects("copyToHost")) out.copy_to_host.push_back(string_at(*f, "guest"));
  for (const json::object* p : objects("provision")) out.provision.push_back(string_at(*p, "script"));
  return out;
}

[[noreturn]] void garbage(std::size_t line_number, std::string_view line, std::string_view why) {
  std::string excerpt = printable_excerpt(line);
  throw lima_error(errc::lima_failed, "list", 0, excerpt,
                   "limactl list --json printed an unreadable record on line " +
                       std::to_string(line_number) + " (" + std::string(why) + "): " + excerpt);
}
}  // namespace

std::vector<instance_info> parse_list_json(std::string_view text) {
  std::vector<instance_info> out;
  std::size_t pos = 0;
  std::size_t line_number = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec) garbage(line_number, line, ec.message());
    if (!value.is_object()) garbage(line_number, line, "not a JSON object");
    const json::object& o = value.as_object();
    instance_info info;
    info.name = string_at(o, "name");
    if (info.name.empty()) garbage(line_number, line, "no \"name\"");
    info.status = string_at(o, "status");
    info.dir = string_at(o, "dir");
    info.vm_type = string_at(o, "vmType");
    info.arch = string_at(o, "arch");
    info.cpus = number_at<int>(o, "cpus");
    info.memory_bytes = number_at<std::uint64_t>(o, "memory");
    info.disk_bytes = number_at<std::uint64_t>(o, "disk");
    info.ssh_local_port = number_at<int>(o, "sshLocalPort");
    info.ssh_address = string_at(o, "sshAddress");
    if (const json::value* p = o.if_contains("protected"); p && p->is_bool()) {
      info.is_protected = p->as_bool();
    }
    info.lima_version = string_at(o, "limaVersion");
    // Lima's error elements are not reliably strings; keep whatever they are as text.
    if (const json::value* errors = o.if_contains("errors"); errors && errors->is_array()) {
      for (const auto& e : errors->as_array()) {
        info.errors.push_back(e.is_string() ? std::string(e.as_string()) : json::serialize(e));
      }
    }
    if (const json::value* c = o.if_contains("config"); c && c->is_object()) {
      info.config = parse_effective(c->as_object());
    }
    out.push_back(std::move(info));
  }
  return out;
}

vm_state state_of(std::string_view lima_status) noexcept {
  if (lima_status == "Running") return vm_state::running;
  if (lima_status == "Stopped") return vm_state::stopped;
  if (lima_status == "Broken") return vm_state::broken;
  if (lima_status == "Installing") return vm_state::installing;
  if (lima_status == "Uninitialized") return vm_state::uninitialized;
  return vm_state::unknown;
}

}  // namespace dvm::v0::detail
