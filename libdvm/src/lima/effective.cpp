#include "lima/effective.hpp"

#include "text/lines.hpp"


#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

namespace dvm::inline v0::detail {

namespace fs = std::filesystem;

namespace {

// The file's root mapping; nullopt when it is missing, unreadable or not a YAML mapping.
std::optional<YAML::Node> load_yaml_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    YAML::Node root = YAML::Load(text.str());
    if (root.IsMap()) return root;
  } catch (const YAML::Exception&) {
    // Lima itself refuses to load such a file, so it cannot add anything either.
  }
  return std::nullopt;
}

bool non_empty_sequence(const YAML::Node& node) { return node && node.IsSequence() && node.size() > 0; }

bool is_true(const YAML::Node& node) {
  if (!node || !node.IsScalar()) return false;
  try {
    return node.as<bool>();
  } catch (const YAML::Exception&) {
    return false;
  }
}

}  // namespace

std::vector<instance_finding> lima_config_file_findings(const fs::path& lima_home) {
  std::vector<instance_finding> out;
  const fs::path dir = lima_home / "_config";
  for (const char* name : {"override.yaml", "default.yaml", "base.yaml"}) {
    const fs::path file = dir / name;
    auto loaded = load_yaml_file(file);
    if (!loaded) continue;
    const YAML::Node& root = *loaded;
    const std::string which(name);
    // base.yaml's mounts are dropped by --mount-none after embedding (start.go:350-366).
    if (which != "base.yaml" && non_empty_sequence(root["mounts"])) {
      out.push_back({"mounts", "it mounts host directories into every Lima instance", file});
    }
    if (non_empty_sequence(root["portForwards"])) {
      out.push_back({"portForwards",
                     which == "override.yaml"
                         ? "its rules come before dvm's and win (first match, upstream/pkg/limayaml/defaults.go:603)"
                         : "its rules are added to every instance's port rules",
                     file});
    }
    // dvm writes ssh.forwardAgent: false, which only override.yaml can overrule.
    if (which == "override.yaml" && root["ssh"] && root["ssh"].IsMap() && is_true(root["ssh"]["forwardAgent"])) {
      out.push_back({"ssh.forwardAgent", "it forwards your ssh agent into every Lima instance", file});
    }
  }
  return out;
}

std::vector<instance_finding> check_effective(const vm_config& vm, const instance_info& info) {
  std::vector<instance_finding> out;
  if (!info.config.present) return out;
  const effective_config& c = info.config;
  std::vector<instance_finding> files = lima_config_file_findings(fs::path(info.dir).parent_path());
  auto source_of = [&](std::string_view key) {
    for (const auto& f : files) {
      if (f.key == key) return f.source;
    }
    return fs::path();
  };

  if (!c.mounts.empty()) {
    out.push_back({"mounts", "the instance mounts host directories (" + join(c.mounts, ", ") + ")", source_of("mounts")});
  }
  std::vector<filled_port_rule> want;
  for (const auto& r : dvm_port_rules(vm)) want.push_back(fill_defaults(r));
  std::vector<filled_port_rule> have;
  for (const auto& r : c.port_forwards) have.push_back(fill_defaults(r));
  if (have != want) {
    std::vector<std::string> extra;
    std::vector<std::string> missing;
    bool widens = false;  // a forwarding rule too many, or an ignore rule too few
    for (const auto& r : have) {
      if (std::find(want.begin(), want.end(), r) != want.end()) continue;
      extra.push_back(describe(r));
      widens = widens || !r.ignore;
    }
    for (const auto& r : want) {
      if (std::find(have.begin(), have.end(), r) != have.end()) continue;
      missing.push_back(describe(r));
      widens = widens || r.ignore;
    }
    // The same rules in another order: Lima takes the first match, so that may widen too.
    if (extra.empty() && missing.empty()) widens = true;
    std::string problem = "the instance's port rules differ from dvm's";
    if (!extra.empty()) problem += "; not from the config: " + join(extra, ", ");
    if (!missing.empty()) problem += "; missing: " + join(missing, ", ");
    if (extra.empty() && missing.empty()) problem += " in their order (Lima uses the first rule that matches)";
    out.push_back({"portForwards", problem, source_of("portForwards"), widens});
  }
  if (c.forward_agent) {
    out.push_back({"ssh.forwardAgent", "the instance forwards your ssh agent (ssh.forwardAgent: true)",
                   source_of("ssh.forwardAgent")});
  }
  return out;
}

std::vector<std::string> template_extras(const effective_config& config) {
  std::vector<std::string> out;
  for (const auto& n : config.networks) {
    if (n != "lima: user-v2") {
      out.push_back("network \"" + n + "\": the VM gets an address beyond user-v2 that dvm's port rules do not govern");
    }
  }
  for (const auto& r : config.port_forwards) {
    if (!r.guest_socket.empty()) out.push_back("socket forward of guest " + r.guest_socket + " to the host");
  }
  for (const auto& f : config.copy_to_host) out.push_back("copyToHost of guest " + f + " to the host");
  std::size_t foreign = 0;
  for (const auto& script : config.provision) {
    if (script.find("\n# dvm: ") == std::string::npos) ++foreign;
  }
  if (foreign > 0) {
    out.push_back(std::to_string(foreign) + " provision script" + (foreign == 1 ? "" : "s") +
                  " not written by dvm, run as root or the guest user at every boot");
  }
  return out;
}

std::optional<std::string> base_template_note(const std::string& image,
                                              const std::vector<fs::path>& template_dirs) {
  if (image.starts_with("template:_images/")) return std::nullopt;
  fs::path file;
  if (image.starts_with("template:")) {
    std::string name = image.substr(9);
    for (const auto& dir : template_dirs) {
      if (fs::path candidate = dir / (name + ".yaml"); fs::is_regular_file(candidate)) {
        file = candidate;
        break;
      }
    }
  } else if (image.starts_with("file://")) {
    file = image.substr(7);
  } else if (image.starts_with("/")) {
    file = image;
  }
  const std::string lead = "image \"" + image + "\" is a Lima template, not only an OS image: ";
  const std::string tail = "; Lima merges all of it into the VM (dvm removes only mounts); an image-only "
                           "template such as template:_images/fedora brings nothing else";
  auto loaded = file.empty() ? std::nullopt : load_yaml_file(file);
  if (!loaded) {
    return lead + "dvm cannot read it here, so it may bring networks, socket forwards, port rules or "
                  "provisioning (see `limactl template copy --embed " + image + " -`)" + tail;
  }
  const YAML::Node& root = *loaded;
  std::vector<std::string> brings;
  if (const YAML::Node n = root["networks"]; non_empty_sequence(n)) {
    std::vector<std::string> names;
    for (const auto& net : n) {
      if (!net.IsMap()) continue;
      if (net["lima"] && net["lima"].IsScalar()) names.push_back("lima: " + net["lima"].as<std::string>());
      else if (net["socket"] && net["socket"].IsScalar()) names.push_back("socket: " + net["socket"].as<std::string>());
      else if (is_true(net["vzNAT"])) names.push_back("vzNAT");
      else names.emplace_back("other");
    }
    brings.push_back("networks (" + join(names, ", ") + ")");
  }
  if (const YAML::Node p = root["portForwards"]; non_empty_sequence(p)) {
    std::size_t sockets = 0;
    for (const auto& r : p) sockets += (r.IsMap() && r["guestSocket"]) ? 1U : 0U;
    if (sockets > 0) brings.push_back(std::to_string(sockets) + " socket forward" + (sockets == 1 ? "" : "s"));
    if (p.size() > sockets) {
      brings.push_back(std::to_string(p.size() - sockets) + " port rule" + (p.size() - sockets == 1 ? "" : "s"));
    }
  }
  if (non_empty_sequence(root["copyToHost"])) brings.emplace_back("copyToHost");
  if (const YAML::Node p = root["provision"]; non_empty_sequence(p)) {
    brings.push_back(std::to_string(p.size()) + " provision script" + (p.size() == 1 ? "" : "s"));
  }
  if (root["base"]) brings.emplace_back("bases of its own (not read)");
  if (brings.empty()) return std::nullopt;
  return lead + file.string() + " brings " + join(brings, ", ") + tail;
}

}  // namespace dvm::v0::detail
