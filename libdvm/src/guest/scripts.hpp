// Guest-side Bash programs of the lifecycle commands. Each is sent as the stdin of one
// `limactl shell --workdir / dvm-NAME bash -s`; user values are embedded with shell_quote(),
// never through argv. Their output is line-based and tab-separated so the host can parse it.
#pragma once

#include <dvm/config.hpp>

#include <string>
#include <vector>

namespace dvm::detail {

/// The guest home of a VM's user and a guest path made absolute on the host side ("~/x" ->
/// "/home/<user>/x").
std::string absolute_guest_path(const vm_config& vm, const std::string& path);

/// Unsaved work under the code dir (product spec §10). Output lines:
///   repo\t<path relative to the code dir>\t<reason>
///   loose\t<path relative to the code dir>        (at most 5)
///   loose-count\t<n>
///   incomplete\t<reason>
/// Exit 0 clean, 1 dirty, 2 incomplete.
std::string dirty_check_script(const vm_config& vm);

/// Whether the VM is in use: an interactive shell, a tmux/zellij session or one of
/// `service_units` active. Prints "active: <reasons>" and exits 1, or prints "inactive" and
/// exits 0.
std::string activity_probe_script(const std::vector<std::string>& service_units);

/// Creates (once) the Git access and signing keys and configures git and ssh for them. Output:
///   access\t<public key> / signing\t<public key> / created\t0|1
std::string ssh_key_script(const vm_config& vm);

/// Creates (once) an unencrypted, signing-only ed25519 GPG key valid for one year. Output:
///   created\t0|1 / fingerprint\t<fpr> / then the armored public key.
std::string gpg_key_script(const vm_config& vm);

/// After `dvm cp` into the code dir: grants the agent user access to what was copied. Exits 0
/// quietly when there is no agent user or no setfacl.
std::string acl_refresh_script(const vm_config& vm, const std::string& target,
                               const std::vector<std::string>& names);

/// argv for a command run in the code dir (created if missing): bash -c ... CMD ARGS...
std::vector<std::string> in_code_dir_command(const vm_config& vm, const std::vector<std::string>& argv);
/// argv for an interactive login shell in the code dir.
std::vector<std::string> login_shell_command(const vm_config& vm);

}  // namespace dvm::detail
