// Guest-side Bash programs of the lifecycle commands. Each is sent as the stdin of one
// `limactl shell --workdir / dvm-NAME /bin/bash -p -s`; user values are embedded with
// shell_quote(), never through argv. Their output is line-based and tab-separated so the host
// can parse it. Their Bash is in libdvm/guest/*.sh (guest_script()); only the values are
// written here.
#pragma once

#include <dvm/config.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// The guest home of a VM's user and a guest path made absolute on the host side ("~/x" ->
/// "/home/<user>/x").
std::string absolute_guest_path(const vm_config& vm, const std::string& path);

/// Unsaved work under the code dir (product spec §10). Output lines (paths relative to the code
/// dir, "." for the code dir itself, control characters replaced by '?'):
///   repo\t<path>\t<reason>                   (one line per reason)
///   problem\t<kind>\t<path>\t<message>       (something the check cannot vouch for)
///   loose\t<path>                            (at most 5)
///   loose-count\t<n>
///   incomplete\t<reason>
///   ::dvm-<nonce>::done                      (last: the check ran to its end)
/// Exit 0 clean, 1 dirty, 2 incomplete. Git runs as vm.agent_user when that user exists (it can
/// write every repository under the code dir anyway), with hooks, fsmonitor, filters, pagers
/// and transports switched off; find never follows a symlink.
std::string dirty_check_script(const vm_config& vm, std::string_view nonce);

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

/// `dvm cp` into the guest, first step: creates the code dir and finds where `target` (absolute)
/// is: "mode\toutside" (limactl copies straight to it), or "mode\tinside|ancestor" (the target
/// is in the code dir, or above it), "kind\tdir|name" (an existing directory, or a name in an
/// existing one) and "staging\t<dir>" (a fresh 0700 directory next to the code dir for limactl
/// to copy into). "refused\t<path>\t<link>", "moved\t<path>" or "missing\t<path>" (exit 3):
/// a symlink in the code dir on the way, a directory swapped meanwhile, no such directory.
std::string copy_stage_script(const vm_config& vm, const std::string& target);

/// `dvm cp` out of the guest, before limactl copies: refuses ("refused\t<path>\t<link>", exit 3)
/// a source (absolute) in the code dir whose path, or with `recursive` whose tree, holds a
/// symlink. Prints "checked".
std::string copy_out_check_script(const vm_config& vm, const std::vector<std::string>& sources, bool recursive);

/// Second step, after limactl copied into `staging`: grants the agent user access to the
/// staged items (mode inside), then moves them into place without following any symlink in
/// the code dir, and removes the staging directory. Prints "installed", or one of the lines
/// above or "failed\t<message>" (exit 3).
std::string copy_install_script(const vm_config& vm, const std::string& target, const std::string& staging,
                                const std::string& mode, const std::string& kind);

/// The incremental sync's records in the guest (guest/recipe-records.sh), read by root, changing
/// nothing: "record\t<recipe>\t<host fingerprint>\t<unix time>" lines, then "end".
std::string recipe_records_script();

/// argv for a command run in the code dir (created if missing): bash -c ... CMD ARGS...
std::vector<std::string> in_code_dir_command(const vm_config& vm, const std::vector<std::string>& argv);
/// argv for an interactive login shell in the code dir.
std::vector<std::string> login_shell_command(const vm_config& vm);

}  // namespace dvm::v0::detail
