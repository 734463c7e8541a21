// Reading an instance's stored lima.yaml back (for reconcile and doctor) with yaml-cpp. Lima
// rewrites the file through yq on `limactl edit`, so it must be parsed as YAML, not as our own
// output format.
#include "lima/instance.hpp"

#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include "guest/shell.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dvm::inline v0::detail {

namespace fs = std::filesystem;

namespace {
template <class T>
std::optional<T> scalar(const YAML::Node& node) {
  if (!node || !node.IsScalar()) return std::nullopt;
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

bool full_range(const YAML::Node& rule) {
  const YAML::Node range = rule["guestPortRange"];
  if (range && range.IsSequence() && range.size() == 2) {
    return scalar<int>(range[0]) == 1 && scalar<int>(range[1]) == 65535;
  }
  // Lima's default range is the whole range when neither guestPort nor a range is given.
  return !rule["guestPort"];
}

// dvm's user provision script records the image and the code dir (render.cpp).
void read_dvm_user_script(const YAML::Node& provision, instance_settings& out) {
  if (!provision || !provision.IsSequence()) return;
  for (const auto& entry : provision) {
    if (!entry.IsMap() || scalar<std::string>(entry["mode"]) != "user") continue;
    auto script = scalar<std::string>(entry["script"]);
    if (!script || script->find("# dvm: the project's code directory.") == std::string::npos) continue;
    std::istringstream lines(*script);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with(created_from_prefix)) {
        out.image = line.substr(created_from_prefix.size());
      } else if (line.starts_with("mkdir -p -- ")) {
        out.code_dir = decode_guest_path_expression(std::string_view(line).substr(12));
      }
    }
    return;
  }
}
}  // namespace

instance_settings parse_instance_yaml(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw error(errc::io, std::string("the instance's lima.yaml is not valid YAML: ") + e.what());
  }
  instance_settings out;
  if (!root.IsMap()) return out;
  out.cpus = scalar<int>(root["cpus"]);
  for (auto [key, target] : {std::pair{"memory", &out.memory_bytes}, std::pair{"disk", &out.disk_bytes}}) {
    if (auto text_value = scalar<std::string>(root[key])) {
      try {
        *target = parse_size(*text_value);
      } catch (const error&) {
        // An unparsable value counts as unknown; reconcile then sets it again.
      }
    }
  }
  if (const YAML::Node ports = root["portForwards"]; ports && ports.IsSequence()) {
    for (const auto& rule : ports) {
      if (!rule.IsMap()) continue;
      std::string guest_ip = scalar<std::string>(rule["guestIP"]).value_or("127.0.0.1");
      std::string proto = scalar<std::string>(rule["proto"]).value_or("any");
      if (scalar<bool>(rule["ignore"]).value_or(false)) {
        if (proto == "any" && full_range(rule)) {
          if (guest_ip == "0.0.0.0" && scalar<bool>(rule["guestIPMustBeZero"]).value_or(true)) {
            out.ignores_guest_any = true;
          }
          if (guest_ip == "127.0.0.1") out.ignores_guest_loopback = true;
        }
        continue;
      }
      auto guest = scalar<int>(rule["guestPort"]);
      auto host = scalar<int>(rule["hostPort"]);
      if (!guest || !host || *guest < 1 || *guest > 65535 || *host < 1 || *host > 65535) continue;
      port_forward pf;
      pf.host_ip = scalar<std::string>(rule["hostIP"]).value_or("127.0.0.1");
      pf.host_port = static_cast<std::uint16_t>(*host);
      pf.guest_port = static_cast<std::uint16_t>(*guest);
      pf.proto = proto;
      out.ports.push_back(std::move(pf));
    }
  }
  if (const YAML::Node mounts = root["mounts"]; mounts && mounts.IsSequence()) {
    for (const auto& m : mounts) {
      out.mounts.push_back(m.IsMap() ? scalar<std::string>(m["location"]).value_or("?") : "?");
    }
  }
  if (const YAML::Node c = root["containerd"]; c && c.IsMap()) {
    out.containerd_system = scalar<bool>(c["system"]);
    out.containerd_user = scalar<bool>(c["user"]);
  }
  if (const YAML::Node s = root["ssh"]; s && s.IsMap()) {
    out.ssh_forward_agent = scalar<bool>(s["forwardAgent"]);
    out.ssh_load_dot_ssh_pub_keys = scalar<bool>(s["loadDotSSHPubKeys"]);
  }
  out.vm_type = scalar<std::string>(root["vmType"]);
  out.arch = scalar<std::string>(root["arch"]);
  if (const YAML::Node u = root["user"]; u && u.IsMap()) out.user = scalar<std::string>(u["name"]);
  read_dvm_user_script(root["provision"], out);
  return out;
}

instance_settings read_instance_yaml(const instance_info& info) {
  const fs::path file = fs::path(info.dir) / "lima.yaml";
  std::ifstream in(file);
  if (info.dir.empty() || !in) throw error(errc::io, "cannot read " + file.string() + " (the instance's config)");
  std::stringstream text;
  text << in.rdbuf();
  return parse_instance_yaml(text.str());
}

}  // namespace dvm::v0::detail
