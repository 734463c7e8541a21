#include "lima/drift.hpp"

#include "lima/port_rules.hpp"

#include <dvm/error.hpp>

#include <algorithm>

namespace dvm::inline v0::detail {

namespace {

// dvm's name for what an effective-config finding is about, as sync reports it.
std::string setting_of(const instance_finding& f) { return f.key == "portForwards" ? "ports" : f.key; }

}  // namespace

std::vector<std::string> instance_drift::editable() const {
  std::vector<std::string> out = resized;
  for (const auto& f : effective) {
    if (std::find(out.begin(), out.end(), setting_of(f)) == out.end()) out.push_back(setting_of(f));
  }
  if (!ports.empty() || catch_all_missing) out.emplace_back("ports");
  return out;
}

std::vector<std::string> recreate_to_apply(const vm_config& vm, const instance_settings& stored) {
  std::vector<std::string> out;
  auto compare = [&](const std::string& setting, const std::optional<std::string>& in_vm, const std::string& in_config) {
    if (in_vm && *in_vm != in_config) {
      out.push_back(setting + " (" + *in_vm + " in the VM, " + in_config + " in the config)");
    }
  };
  compare("vm_type", stored.vm_type, vm.vm_type);
  compare("arch", stored.arch, vm.arch);
  compare("user", stored.user, vm.user);
  compare("image", stored.image, vm.image);
  compare("code_dir", stored.code_dir, vm.code_dir);
  return out;
}

instance_drift compare_instance(const vm_config& vm, const instance_info& info) {
  instance_drift d;
  d.stored = read_instance_yaml(info);
  const instance_settings& s = d.stored;
  if (s.cpus != vm.cpus) d.resized.emplace_back("cpus");
  if (s.memory_bytes != vm.memory_bytes) d.resized.emplace_back("memory");
  if (s.disk_bytes != vm.disk_bytes) d.resized.emplace_back("disk");
  if (s.disk_bytes && vm.disk_bytes < *s.disk_bytes) d.disk_shrinks_from = s.disk_bytes;
  if (info.config.present) {
    // What Lima runs (lima.yaml with $LIMA_HOME/_config/*.yaml merged in), not only lima.yaml.
    d.effective = check_effective(vm, info);
    d.template_extras = template_extras(info.config);
  } else {
    d.ports = diff(s.ports, vm.ports);
    d.catch_all_missing = !s.ignores_guest_any || !s.ignores_guest_loopback;
  }
  d.recreate = recreate_to_apply(vm, s);
  return d;
}

std::string edit_expression(const vm_config& vm, const instance_drift& drift) {
  std::string expression;
  auto add = [&](const std::string& part) { expression += (expression.empty() ? "" : " | ") + part; };
  for (const auto& setting : drift.editable()) {
    if (setting == "cpus") {
      add(".cpus = " + std::to_string(vm.cpus));
    } else if (setting == "memory") {
      add(".memory = \"" + format_size(vm.memory_bytes) + "\"");
    } else if (setting == "disk") {
      add(".disk = \"" + format_size(vm.disk_bytes) + "\"");
    } else if (setting == "ports") {
      add(".portForwards = " + port_rules_json(vm));
    } else if (setting == "mounts") {
      add(".mounts = []");
    } else if (setting == "ssh.forwardAgent") {
      add(".ssh.forwardAgent = false");
    }
  }
  return expression;
}

}  // namespace dvm::v0::detail
