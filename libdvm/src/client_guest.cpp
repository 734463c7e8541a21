// Commands that run something in a running VM: exec, shell, log, the key scripts, and
// ssh-config (which reads what Lima wrote for the running VM).
#include "client_impl.hpp"

#include <dvm/error.hpp>

#include "guest/output.hpp"
#include "guest/scripts.hpp"
#include "guest/shell.hpp"
#include "lima/ssh_config.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

namespace dvm::inline v0 {

using detail::exit_status;
using detail::last_lines;
using detail::tab_fields;

namespace {

// The VM's service recipes (a `# Service:` header line) and their units, in run order.
std::vector<std::pair<std::string, std::string>> service_units(const vm_config& vm, const recipe_catalog& catalog) {
  std::vector<std::pair<std::string, std::string>> units;
  for (const recipe* r : recipes_run_by(vm, catalog)) {
    if (r->service) units.emplace_back(r->name, service_unit_in(*r->service, vm));
  }
  return units;
}

}  // namespace

exec_result client::exec(const std::string& name_arg, const std::vector<std::string>& argv,
                         const exec_options& options) {
  if (argv.empty()) throw error(errc::usage, "exec needs a command to run");
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  detail::shell_request request;
  request.command = detail::in_code_dir_command(running.config, argv);
  stdin_payload input;
  if (options.interactive) {
    request.stdin_mode = request.stdout_mode = request.stderr_mode = stdio_mode::inherit;
  } else if (options.input) {
    input.append(*options.input);
    request.stdin_mode = stdio_mode::pipe;
    request.input = &input;
  }
  process_result r = d.shell(running.info.name, request);
  return {exit_status(r), std::move(r.out), std::move(r.err),
          std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed)};
}

int client::shell(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  detail::shell_request request;
  request.command = detail::login_shell_command(running.config);
  request.stdin_mode = request.stdout_mode = request.stderr_mode = stdio_mode::inherit;
  return exit_status(d.shell(running.info.name, request));
}

logs_result client::logs(const std::string& name_arg, const log_options& options) {
  const auto began = std::chrono::steady_clock::now();
  std::string name = normalize_vm_name(name_arg);
  std::string unit = options.unit;
  if (unit.empty()) {
    auto units = service_units(impl_->store.load(name), impl_->store.recipes());
    if (units.size() != 1) {
      std::string which = "recipes with a \"# Service:\" header line";
      if (!units.empty()) {
        which.clear();
        for (const auto& [recipe_name, _] : units) which += (which.empty() ? "" : ", ") + recipe_name;
      }
      throw error(errc::usage, "log needs a unit: VM " + name + " uses " +
                                   (units.empty() ? std::string("no") : std::to_string(units.size())) +
                                   " service recipes (" + which + "); name the unit, e.g. `dvm log " + name +
                                   " sshd.service`");
    }
    unit = units.front().second;
  }
  bool unit_ok = !unit.empty() && unit.front() != '-' &&
                 std::all_of(unit.begin(), unit.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                          c == '@' || c == '-' || c == ':' || c == '\\';
                 });
  if (!unit_ok) throw error(errc::usage, "\"" + unit + "\" is not a systemd unit name");
  std::vector<std::string> command{"sudo", "journalctl", "-u", unit};
  if (options.args.empty()) {
    command.insert(command.end(), {"--no-pager", "-n", "100"});
  } else {
    command.insert(command.end(), options.args.begin(), options.args.end());
  }
  auto d = impl_->driver(name);
  auto running = impl_->require_running(d, name);
  detail::shell_request request;
  request.command = command;
  if (options.interactive) request.stdout_mode = request.stderr_mode = stdio_mode::inherit;
  process_result r = d.shell(running.info.name, request);
  logs_result result;
  result.unit = unit;
  result.exit_code = exit_status(r);
  result.output = std::move(r.out);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
  return result;
}

std::string client::impl::run_guest_script(const std::string& name_arg,
                                            const std::function<std::string(const vm_config&)>& script,
                                            const std::string& what) {
  std::string name = normalize_vm_name(name_arg);
  auto d = driver(name);
  auto running = require_running(d, name);
  process_result r = run_script(d, running.info.name, script(running.config), lima.timeouts.command);
  if (r.exit_code != 0) {
    throw error(errc::guest_failed, what + " in " + running.info.name + " failed (exit " +
                                        std::to_string(exit_status(r)) + "): " + last_lines(r.err + r.out, 4));
  }
  return r.out;
}

ssh_key_result client::ssh_key(const std::string& name) {
  std::string out_text = impl_->run_guest_script(name, detail::ssh_key_script, "creating the SSH keys");
  ssh_key_result out;
  for (const auto& [key, value] : tab_fields(out_text)) {
    if (key == "access") out.access_public_key = value;
    if (key == "signing") out.signing_public_key = value;
    if (key == "created") out.created = value == "1";
  }
  if (out.access_public_key.empty() || out.signing_public_key.empty()) {
    throw error(errc::guest_failed, "the guest did not report both public keys");
  }
  return out;
}

gpg_key_result client::gpg_key(const std::string& name) {
  std::string out_text = impl_->run_guest_script(name, detail::gpg_key_script, "creating the GPG key");
  gpg_key_result out;
  std::size_t armor = out_text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----");
  for (const auto& [key, value] : tab_fields(out_text.substr(0, armor))) {
    if (key == "created") out.created = value == "1";
    if (key == "fingerprint") out.fingerprint = value;
  }
  if (armor != std::string::npos) out.armored_public_key = out_text.substr(armor);
  if (out.fingerprint.empty() || out.armored_public_key.empty()) {
    throw error(errc::guest_failed, "the guest did not report the GPG key");
  }
  return out;
}

std::string client::ssh_config(const std::string& name_arg) {
  std::string name = normalize_vm_name(name_arg);
  auto d = impl_->driver(name);
  auto info = impl_->existing_instance(d, name);
  // Lima rewrites ssh.config with a new port at every start: only a running VM's is current.
  if (info.status != "Running") {
    throw error(errc::not_running, "VM " + name + " is " + (info.status.empty() ? "not running" : info.status) +
                                       ": its SSH port is chosen when it starts; run `dvm start " + name +
                                       "` first");
  }
  return detail::dvm_ssh_config(name, info);
}

}  // namespace dvm::v0
