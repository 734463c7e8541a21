#include "guest/scripts.hpp"

#include "guest/shell.hpp"

namespace dvm::inline v0::detail {

namespace {

// The Bash of these scripts is in libdvm/guest/*.sh; each file's header names the values it
// expects. Shared first lines: strict mode and the values, quoted.
std::string header(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out = safe_guest_environment() + "set -euo pipefail\n";
  for (const auto& [name, value] : values) out += name + "=" + shell_quote(value) + "\n";
  return out;
}

}  // namespace

std::string absolute_guest_path(const vm_config& vm, const std::string& path) {
  if (path == "~") return vm.guest_home();
  if (path.starts_with("~/")) return vm.guest_home() + path.substr(1);
  if (path.starts_with("/")) return path;
  return vm.guest_home() + "/" + path;
}

std::string dirty_check_script(const vm_config& vm, std::string_view nonce) {
  std::string code_dir = absolute_guest_path(vm, vm.code_dir);
  return header({{"code_dir", code_dir},
                 {"agent_user", vm.agent_user},
                 {"nonce", std::string(nonce)},
                 {"repo_checker", guest_script("dirty-check-repo")}}) +
         guest_script("dirty-check");
}

std::string recipe_records_script() { return header({}) + guest_script("recipe-records"); }

std::string activity_probe_script(const std::vector<std::string>& service_units) {
  // No -e: a probe step that fails must not end the probe early.
  std::string out = safe_guest_environment() + "set -uo pipefail\nunits=(";
  for (const auto& u : service_units) (out += ' ') += shell_quote(u);  // not `" " + x`: GCC 12 -O3 warns (-Wrestrict)
  return out + " )" + guest_script("activity-probe");
}

std::string ssh_key_script(const vm_config& vm) {
  return header({{"name", vm.name}}) + guest_script("ssh-key");
}

std::string gpg_key_script(const vm_config& vm) {
  return header({{"name", vm.name}}) + guest_script("gpg-key");
}

std::string copy_stage_script(const vm_config& vm, const std::string& target) {
  return header({{"code_dir", absolute_guest_path(vm, vm.code_dir)}, {"target", target}}) +
         guest_script("copy-common") + guest_script("copy-stage");
}

std::string copy_out_check_script(const vm_config& vm, const std::vector<std::string>& sources, bool recursive) {
  std::string out = header({{"code_dir", absolute_guest_path(vm, vm.code_dir)}, {"recursive", recursive ? "1" : "0"}});
  out += "sources=(";
  for (const auto& src : sources) (out += ' ') += shell_quote(src);
  out += " )\n";
  return out + guest_script("copy-common") + guest_script("copy-out-check");
}

std::string copy_install_script(const vm_config& vm, const std::string& target, const std::string& staging,
                                const std::string& mode, const std::string& kind) {
  return header({{"agent_user", vm.agent_user},
                 {"vm_user", vm.user},
                 {"home", vm.guest_home()},
                 {"code_dir", absolute_guest_path(vm, vm.code_dir)},
                 {"target", target},
                 {"staging", staging},
                 {"mode", mode},
                 {"kind", kind}}) +
         guest_script("copy-common") + guest_script("copy-install");
}

std::vector<std::string> in_code_dir_command(const vm_config& vm,
                                             const std::vector<std::string>& argv) {
  // Lima quotes every argv element for the remote shell, so these arrive exactly as given;
  // the first word ("bash") has no '=', which Lima would read as an environment assignment.
  // `exec --`: a command word that starts with '-' is the program, not an option of exec.
  std::vector<std::string> out{"bash", "-c",
                               "mkdir -p -- \"$1\" && cd -- \"$1\" && shift && exec -- \"$@\"",
                               "dvm-exec", absolute_guest_path(vm, vm.code_dir)};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::string> login_shell_command(const vm_config& vm) {
  return {"bash", "-c", guest_script("login-shell"), "dvm-sh", absolute_guest_path(vm, vm.code_dir)};
}

}  // namespace dvm::v0::detail
