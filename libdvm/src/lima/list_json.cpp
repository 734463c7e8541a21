// `limactl list --json`: one JSON object per line (never an array), nothing at all when there
// are no instances. Parsed with Boost.JSON.
#include "lima/instance.hpp"

#include <dvm/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace dvm::detail {

namespace {
namespace json = boost::json;

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

template <class T>
T number_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return T{};
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<T>(v->as_int64());
  if (v->is_uint64()) return static_cast<T>(v->as_uint64());
  if (v->is_double() && v->as_double() >= 0) return static_cast<T>(v->as_double());
  return T{};
}

[[noreturn]] void garbage(std::size_t line_number, std::string_view line, std::string_view why) {
  std::string excerpt(line.substr(0, 120));
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
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace dvm::detail
