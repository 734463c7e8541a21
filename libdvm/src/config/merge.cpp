// Phases 2 and 3 of loading a VM: the VM file's settings override [defaults] key by key, then
// the rules that involve several keys run on the merged record.
#include "config/loader_internal.hpp"

#include <dvm/error.hpp>

#include "config/suggest.hpp"

#include <algorithm>
#include <set>

namespace dvm::inline v0::config_detail {

namespace {

std::string derive_code_dir(const std::string& root, const std::string& name) {
  return root == "/" ? "/" + name : root + "/" + name;
}

// The code directory gets rwx ACLs for the agent user and is scanned by `rm`: it must be a
// directory of its own, never the home, a parent of it, or a system directory; and root's and
// the main user's work on it must not walk through a directory the agent user (or every user)
// can write to: the agent's home, /tmp, /var/tmp. `code_dir` is in its plain form
// (normalize_guest_path), so "//home" or "~/." meet the same rule as "/home" or "~".
void check_code_dir_placement(const origin& at, const std::string& code_dir,
                              const std::string& home, const std::string& agent_home) {
  static constexpr std::array<std::string_view, 17> system_dirs = {
      "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc",
      "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var"};
  std::string absolute = code_dir == "~" ? home
                         : code_dir.starts_with("~/") ? home + code_dir.substr(1)
                                                      : code_dir;
  if (absolute == home || (home.starts_with(absolute) && home[absolute.size()] == '/')) {
    fail(at, "\"" + code_dir + "\" is the guest home or contains it; use a directory of its own such as \"~/code/<name>\"");
  }
  if (std::find(system_dirs.begin(), system_dirs.end(), absolute) != system_dirs.end()) {
    fail(at, "\"" + code_dir + "\" is a system directory; use a directory of its own such as \"~/code/<name>\"");
  }
  for (std::string_view prefix : {"/usr/", "/etc/", "/proc/", "/sys/", "/dev/", "/boot/"}) {
    if (absolute.starts_with(prefix)) fail(at, "\"" + code_dir + "\" lies in a system directory");
  }
  if (absolute == agent_home || absolute.starts_with(agent_home + "/")) {
    fail(at, "\"" + code_dir + "\" lies in the agent user's home " + agent_home +
                 ", which the agent controls; use a directory such as \"~/code/<name>\"");
  }
  for (std::string_view prefix : {"/tmp/", "/var/tmp/"}) {
    if (absolute.starts_with(prefix)) {
      fail(at, "\"" + code_dir + "\" lies in " + std::string(prefix.substr(0, prefix.size() - 1)) +
                   ", which every user can write to; use a directory such as \"~/code/<name>\"");
    }
  }
}

// cpus, memory, disk, arch, vm_type and image.
void merge_machine(const settings& vm, const settings& d, const host_info& host, vm_config& out) {
  if (const auto& f = pick(vm.cpus, d.cpus); f.value) {
    out.cpus = *f.value;
    if (host.cpus > 0 && static_cast<unsigned>(out.cpus) > host.cpus) {
      warn(f.where, std::to_string(out.cpus) + " is more than the " + std::to_string(host.cpus) +
                        " CPUs of this host", out);
    }
  }
  out.memory_bytes = pick(vm.memory, d.memory).value.value_or(2ULL << 30);
  const auto& disk = pick(vm.disk, d.disk);
  out.disk_bytes = disk.value.value_or(10ULL << 30);
  // Lima grows the image's disk to `disk` and cannot shrink it; the Fedora and Ubuntu cloud
  // images of Lima's templates have a 5 GiB (Fedora) or 3.5 GiB (Ubuntu) disk before anything is
  // installed, so less than 5 GiB leaves no room or fails the create.
  if (disk.value && out.disk_bytes < (5ULL << 30)) {
    warn(disk.where, "\"" + format_size(out.disk_bytes) + "\" is smaller than the 5GiB disk of the cloud images Lima's templates use; "
                         "use at least \"10GiB\"", out);
  }
  const auto& arch = pick(vm.arch, d.arch);
  out.arch = arch.value.value_or("default");
  // vz runs only the host's own architecture: Lima's vz driver fails with "unsupported arch"
  // (upstream/pkg/driver/vz/vz_driver_darwin.go:301-303) after `limactl create` has already
  // written the instance (upstream/cmd/limactl/start.go:571-579). So a foreign arch defaults to
  // qemu, and an explicit vz with one is refused here.
  const bool native_arch = out.arch == "default" || out.arch == host.arch;
  const auto& vm_type = pick(vm.vm_type, d.vm_type);
  out.vm_type = vm_type.value.value_or(host.os == "darwin" && native_arch ? "vz" : "qemu");
  if (out.vm_type == "vz" && !native_arch) {
    fail(vm_type.where, "vm_type = \"vz\" runs only this host's architecture (" + host.arch +
                            "), not arch = \"" + out.arch + "\" (" + arch.where.key_path +
                            "); use vm_type = \"qemu\" or leave vm_type out");
  }
  // Lima builds its vz driver only for macOS (upstream/pkg/driver/vz/vz_driver_darwin.go:1,
  // "//go:build darwin && !no_vz"): elsewhere `limactl create` of such a VM fails. A warning, not
  // an error: one config dir may be shared between a Mac and a Linux machine.
  if (out.vm_type == "vz" && host.os != "darwin") {
    warn(vm_type.where, "\"vz\" cannot run on this " + host.os +
                            " host: Lima's vz driver exists only on macOS; use \"qemu\" here", out);
  }
  out.image = pick(vm.image, d.image).value.value_or("template:_images/fedora");
}

// Linux lets only privileged processes bind ports below 1024 (unless
// net.ipv4.ip_unprivileged_port_start says otherwise), and Lima's host agent runs as the user, so
// such a forward would not listen. macOS has no such rule for unprivileged users.
void warn_privileged_ports(const settings& vm, const settings& d, const host_info& host, vm_config& out) {
  const auto& ports = pick(vm.ports, d.ports);
  if (host.os != "linux" || !ports.value) return;
  for (const auto& p : *ports.value) {
    if (p.host < 1024) {
      warn(p.where, "host port " + std::to_string(p.host) +
                        " is below 1024, which only root may bind on Linux; Lima's host agent "
                        "runs as you, so nothing would listen there (use a port from 1024 up)", out);
    }
  }
}

void merge_users(const settings& vm, const settings& d, const host_info& host, vm_config& out) {
  const auto& user = pick(vm.user, d.user);
  if (user.value) {
    out.user = *user.value;
  } else {
    out.user = is_valid_user_name(host.login_name) && host.login_name != "root" ? host.login_name
                                                                               : "developer";
  }
  const auto& agent = pick(vm.agent_user, d.agent_user);
  out.agent_user = agent.value.value_or("dvm-agent");
  if (out.agent_user == out.user) {
    fail(agent.value ? agent.where : user.where,
         "the agent user must differ from the guest user \"" + out.user + "\"");
  }
}

// Needs the users: the placement rule looks at their homes.
void merge_code_dir(const std::string& name, const fs::path& file, const settings& vm,
                    const settings& d, vm_config& out) {
  const auto& code_dir = pick(vm.code_dir, d.code_dir);
  const auto& code_root = pick(vm.code_root, d.code_root);
  if (code_dir.value) {
    out.code_dir = *code_dir.value;
    check_code_dir_placement(code_dir.where, out.code_dir, out.guest_home(), "/home/" + out.agent_user);
  } else {
    out.code_dir = derive_code_dir(code_root.value.value_or("~/code"), name);
    origin at = code_root.value ? code_root.where : origin{&file, {}, "code_dir"};
    check_code_dir_placement(at, out.code_dir, out.guest_home(), "/home/" + out.agent_user);
  }
}

// Appends recipes to out.recipes: unknown names are refused, duplicates dropped (first position
// wins), and each recipe's requirements must come earlier.
class recipe_list_builder {
 public:
  recipe_list_builder(const recipe_catalog& catalog, vm_config& out) : catalog_(catalog), out_(out) {
    for (const auto& r : catalog.all()) names_.push_back(r.name);
    if (out.baseline) seen_.insert(std::string(baseline_recipe));  // it runs first anyway
  }

  void add(const std::string& recipe_name, const origin& where) {
    if (catalog_.find(recipe_name) == nullptr) {
      std::string rule = "unknown recipe \"" + recipe_name + "\"";
      if (auto hint = suggest(recipe_name, names_)) rule += " (did you mean \"" + *hint + "\"?)";
      rule += "; see `dvm recipes`";
      fail(where, rule);
    }
    if (!seen_.insert(recipe_name).second) return;
    // The recipe's `# Requires:` header line: those must already be in the list.
    for (const auto& needed : catalog_.find(recipe_name)->requires_recipes) {
      if (seen_.count(needed) == 0) {
        fail(where, "recipe \"" + recipe_name + "\" needs \"" + needed +
                        "\" earlier in the list (its header says \"# Requires: " + needed + "\")");
      }
    }
    out_.recipes.push_back(recipe_name);
  }

 private:
  const recipe_catalog& catalog_;
  vm_config& out_;
  std::vector<std::string_view> names_;
  std::set<std::string> seen_;
};

// Recipes: expand @sets, drop duplicates (first position wins), check names and order.
void merge_recipes(const settings& vm, const settings& d, const global_config& global,
                   const recipe_catalog& catalog, vm_config& out) {
  const auto& recipes = pick(vm.recipes, d.recipes);
  if (!recipes.value) return;
  std::vector<std::string_view> set_names;
  for (const auto& [set_name, _] : global.recipe_sets) set_names.push_back(set_name);
  recipe_list_builder list(catalog, out);
  for (const auto& r : *recipes.value) detail::keep_going([&] {
    if (!r.text.starts_with('@')) {
      list.add(r.text, r.where);
      return;
    }
    std::string set_name = r.text.substr(1);
    auto it = global.recipe_sets.find(set_name);
    if (it == global.recipe_sets.end()) {
      std::string rule = "unknown recipe set \"" + r.text + "\"";
      if (auto hint = suggest(set_name, set_names)) rule += " (did you mean \"@" + *hint + "\"?)";
      rule += "; sets are defined under [recipe_sets] in config.toml";
      fail(r.where, rule);
    }
    for (const auto& member : it->second.members) list.add(member.text, r.where);
  });
}

}  // namespace

// The order matters: each step may use what the ones before it set (code_dir needs the users,
// ports need host_ip, recipes need baseline), and the first error found is the one reported
// (dvm::validate goes on after a failed step: each sets what it can before it fails).
vm_config merge_and_check(const std::string& name, const fs::path& file, const settings& vm,
                          const global_config& global, const recipe_catalog& catalog,
                          const host_info& host) {
  const settings& d = global.defaults;
  vm_config out;
  out.name = name;
  out.file = file;
  detail::keep_going([&] { merge_machine(vm, d, host, out); });
  const bool users_valid = detail::keep_going([&] { merge_users(vm, d, host, out); });
  // (The placement rule compares with the users' homes: not checked against a refused user.)
  if (users_valid) detail::keep_going([&] { merge_code_dir(name, file, vm, d, out); });
  merge_ports(vm, d, out);
  warn_privileged_ports(vm, d, host, out);
  out.baseline = pick(vm.baseline, d.baseline).value.value_or(true);
  merge_recipes(vm, d, global, catalog, out);
  detail::keep_going([&] { merge_secrets_and_env(vm, d, out); });
  return out;
}

}  // namespace dvm::v0::config_detail
