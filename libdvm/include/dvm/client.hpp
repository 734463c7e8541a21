// dvm::client: every operation of the `dvm` CLI as a library call.
//
//   dvm::client c({});                         // config from $DVM_CONFIG, limactl from PATH
//   c.sync("app", {});                         // create/reconcile/start + guest recipes
//   auto r = c.exec("app", {"git", "status"}); // r.exit_code is the guest command's
//
// A client is cheap to construct. Its methods may be called from several threads at once
// (sync_all does); events are delivered one at a time.
#pragma once

#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/events.hpp>
#include <dvm/export.hpp>
#include <dvm/ports.hpp>
#include <dvm/process.hpp>
#include <dvm/secret.hpp>
#include <dvm/timeouts.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvm::inline v0 {

/// How a client is set up. Every field has a default, so `dvm::client c({});` works.
struct client_options {
  /// Variables read by dvm (DVM_CONFIG, DVM_STATE, XDG_*, HOME, LIMACTL, PATH, LIMA_HOME, ...)
  /// and the values of secrets named in configs. Default: this process's environment.
  std::optional<std::map<std::string, std::string>> environment;
  std::optional<std::filesystem::path> config_dir;  ///< default: from the environment
  std::optional<std::filesystem::path> state_dir;   ///< default: from the environment
  std::string limactl;  ///< default: $LIMACTL, else "limactl" on PATH
  std::shared_ptr<process_runner> runner;  ///< default: make_default_runner()
  event_sink on_event;                     ///< progress; may be empty
  std::optional<host_info> host;           ///< default: detect_host()
  const cancel_token* cancel = nullptr;    ///< set it to stop the running limactl call
  dvm::timeouts timeouts;
};

/// One limactl call as `dvm plan` shows it.
struct planned_call {
  std::vector<std::string> argv;  ///< starts with "limactl"
  std::string stdin_text;         ///< what goes to its stdin ("" for none), secrets redacted
};

/// Where a recipe stands against the fingerprint recorded in the guest at its last successful
/// run (incremental sync: a sync runs a recipe only when what it depends on changed).
enum class recipe_freshness {
  unknown,    ///< the records were not read: the VM does not run (or limactl is not there)
  never_ran,  ///< no record: it never ran to its end in this VM (or a doctor check failed since)
  changed,    ///< what it depends on changed since its last successful run
  current,    ///< unchanged since its last successful run
  /// unchanged on the host's side; the values of the secrets it uses are compared only by a sync
  current_unless_secrets_changed,
};
/// "unknown", "never_ran", "changed", "current", "current_unless_secrets_changed".
DVM_EXPORT std::string_view to_string(recipe_freshness f) noexcept;
DVM_EXPORT std::ostream& operator<<(std::ostream& out, recipe_freshness f);

/// One recipe of a VM, as the next sync sees it (plan_result::recipes, vm_status::recipe_states).
struct recipe_state {
  std::string name;
  recipe_freshness freshness = recipe_freshness::unknown;
  bool always = false;  ///< the baseline or `# Always: true`: a sync runs it whatever its fingerprint
  /// It has a `dvm_every_sync` function, which every sync runs, even when it skips the recipe.
  bool every_sync = false;
  /// The end of its last successful run, from its record (none without one).
  std::optional<std::chrono::system_clock::time_point> last_run;
  /// Whether the next sync (without --full or --recipe) runs it: always, or not current. A
  /// recipe whose secrets are compared only by the sync counts as not run.
  bool will_run() const noexcept {
    return always || (freshness != recipe_freshness::current &&
                      freshness != recipe_freshness::current_unless_secrets_changed);
  }
};

/// What `sync` would do (client::plan). Changes nothing; reads the guest's recipe records with
/// one `limactl list` and one `limactl shell` when limactl is there and the VM runs.
struct plan_result {
  std::string vm;
  std::string instance;
  std::string lima_yaml;              ///< the instance config that would be created
  std::vector<planned_call> calls;    ///< for a machine where the VM does not exist yet
  std::string guest_program;          ///< the sync program, every secret as <redacted>
  std::vector<std::string> secrets;   ///< names of the secrets the sync would stage
  std::vector<std::string> warnings;  ///< e.g. a listed secret that is not set
  /// The baseline and each recipe, in run order, and whether the next sync runs it.
  std::vector<recipe_state> recipes;
};

/// A VM's state: its Lima instance's status (upstream/pkg/limatype/lima_instance.go:17-24),
/// or absent (configured, never created).
enum class vm_state { absent, unknown, uninitialized, installing, broken, stopped, running };
/// "absent", or Lima's own word: "Running", "Stopped", "Broken", "Installing",
/// "Uninitialized", "Unknown" (also for a status this version of dvm does not know).
DVM_EXPORT std::string_view to_string(vm_state state) noexcept;
DVM_EXPORT std::ostream& operator<<(std::ostream& out, vm_state state);

/// A VM as `dvm ls` / `dvm status` show it.
struct vm_status {
  std::string name;       ///< without "dvm-"
  std::string instance;   ///< "dvm-<name>"
  vm_state state = vm_state::absent;
  bool configured = false;  ///< vms/<name>.toml exists
  std::string ssh_address;  ///< "127.0.0.1:60022" when known
  int cpus = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  std::string arch;
  std::string vm_type;
  std::string dir;                  ///< Lima's instance directory
  std::vector<port_forward> ports;  ///< configured forwards (or, without config, the instance's)
  std::string code_dir;             ///< from the config
  std::vector<std::string> recipes; ///< from the config
  /// Create-only settings (vm_type, arch, image, user, code_dir) whose config value differs from
  /// the instance's, e.g. "vm_type (qemu in the VM, vz in the config)": only a new instance
  /// (dvm rm, then dvm sync) applies them.
  std::vector<std::string> recreate_to_apply;
  /// client::status of a running, configured VM: the baseline and each recipe with when it last
  /// ran and whether its fingerprint is current (read from the guest). Empty from list(), and
  /// for a VM that does not run.
  std::vector<recipe_state> recipe_states;
};

/// "app: Running" (with ", ssh 127.0.0.1:60022" when known).
DVM_EXPORT std::ostream& operator<<(std::ostream& out, const vm_status& vm);

/// The outcome of client::exec: the guest command's own status and output.
struct exec_result {
  int exit_code = 0;  ///< the guest command's own exit status (255: ssh failed)
  std::string stdout_text;
  std::string stderr_text;
  std::chrono::milliseconds duration{0};
};

/// Options of client::exec.
struct exec_options {
  /// Connect the guest command to this process's own stdin/stdout/stderr (a terminal for
  /// `dvm sh`). The result then holds no output.
  bool interactive = false;
  /// Bytes for the command's stdin when not interactive (default: none, /dev/null).
  std::optional<std::string> input;
};

/// Secrets handed to one sync: name -> value. These are staged in addition to (and instead of
/// reading from the environment) the names listed in the VM's `secrets`.
using secret_map = std::map<std::string, secret>;

/// Options of client::sync.
struct sync_options {
  secret_map secrets;
  /// Run every recipe, also those whose fingerprint is unchanged (`dvm sync --full`).
  bool full = false;
  /// Run these recipes even when their fingerprint is unchanged (`dvm sync --recipe NAME`); the
  /// others run as usual (when changed). Each must be one the VM runs (else errc::usage).
  std::vector<std::string> recipes;
  /// A change that needs a restart (cpus, memory, disk, port rules) is applied to a VM in use
  /// (a shell, a tmux/zellij session, an active service unit) only with restart = true;
  /// otherwise sync throws errc::busy and changes nothing. A VM that is not in use is restarted
  /// either way.
  bool restart = false;
};

/// One recipe of a sync and how long it ran.
struct recipe_timing {
  std::string name;
  std::chrono::milliseconds duration{0};
  bool ok = true;
  /// Not run: what it depends on (its fingerprint) is what it was at its last successful run.
  bool skipped = false;
};

/// What client::sync did.
struct sync_result {
  std::string vm;
  bool created = false;     ///< the instance was created
  bool started = false;     ///< it was booted
  std::vector<std::string> reconciled;  ///< what was changed: "ports", "cpus", "memory", "disk"
  std::vector<recipe_timing> recipes;
  int limactl_calls = 0;
  std::chrono::milliseconds duration{0};
  /// This sync's log: the guest program's whole output, in <state dir>/logs/<vm>.<UTC time>.log
  /// (the newest 5 of a VM are kept). Empty when it could not be written (a warning said why). A
  /// failed sync's error message ends with the path instead.
  std::filesystem::path log;
};

/// Options of client::sync_all.
struct sync_all_options {
  unsigned jobs = 4;               ///< VMs synced at the same time
  std::vector<std::string> names;  ///< default: every configured VM
  /// Secret values given directly, per VM name: each map is that VM's sync_options::secrets.
  /// Every name must be one of the VMs synced (else errc::usage, before anything is done); a
  /// VM's values go to its own sync only.
  std::map<std::string, secret_map> secrets;
  bool restart = false;  ///< sync_options::restart for every VM
  bool full = false;     ///< sync_options::full for every VM
  /// sync_options::recipes for every VM that runs them; each must be run by one of the VMs.
  std::vector<std::string> recipes;
};

/// One VM of client::sync_all: its result, or the error code and message.
struct sync_outcome {
  std::string vm;
  bool ok = false;
  std::optional<sync_result> result;  ///< when ok
  std::string error_code;             ///< errc_name() when not ok
  std::string message;
};

/// Every VM of client::sync_all; one failure does not stop the others.
struct sync_all_result {
  std::vector<sync_outcome> outcomes;  ///< in name order
  std::size_t ok = 0;
  std::size_t failed = 0;
};

/// What client::start / client::restart did.
struct start_result {
  std::string vm;
  bool started = false;  ///< false: it was already running (start) -- restart always starts
};

/// What client::stop did.
struct stop_result {
  std::string vm;
  bool stopped = false;  ///< it was running and is now stopped; false: it was already stopped
};

/// Options of client::stop_all.
struct stop_all_options {
  bool inactive_only = false;  ///< skip VMs that are in use (shell, tmux/zellij, service units)
  bool force = false;          ///< with inactive_only: stop VMs whose activity probe failed
};

/// What client::stop_all did with one VM.
enum class stop_action { stopped, skipped, failed };
/// "stopped", "skipped", "failed".
DVM_EXPORT std::string_view to_string(stop_action action) noexcept;
DVM_EXPORT std::ostream& operator<<(std::ostream& out, stop_action action);

/// One VM of client::stop_all.
struct stop_outcome {
  std::string vm;
  stop_action action = stop_action::stopped;
  std::string reason;  ///< why skipped / failed (e.g. "active: tmux")
};

/// What client::stop_all did, VM by VM.
struct stop_all_result {
  std::vector<stop_outcome> outcomes;
  std::size_t stopped = 0;
  std::size_t skipped = 0;
  std::size_t failed = 0;
};

/// Options of client::remove.
struct remove_options {
  bool force = false;  ///< skip the unsaved-work check
};

/// Unsaved work found under a VM's code directory.
struct dirty_repository {
  std::string path;                  ///< relative to the code dir ("." for the code dir itself)
  std::vector<std::string> reasons;  ///< "unstaged changes", "staged changes", "untracked files",
                                     ///< "stash", "commits not on any remote branch",
                                     ///< "commits only on refs no remote branch contains (...)"
                                     ///< (refs/jj/..., refs/notes/...), "a worktree outside the
                                     ///< code dir (...)", "not a readable Git repository (...)",
                                     ///< "cannot be checked (...)"
};

/// Something the unsaved-work check cannot vouch for, so deletion is refused (fail closed).
/// `kind` is a stable identifier:
///   "code_dir_symlink"      the code dir is a symbolic link (its target is not checked)
///   "not_a_directory"       the code dir exists but is not a directory
///   "unreadable_directory"  a directory the main user cannot list or enter (it may hide work)
///   "git_symlink"           a ".git" that is a symbolic link
///   "walk_failed"           listing the code dir failed
///   "vm_file_missing"       no VM file (or a dangling link) and the instance records no code dir
struct dirty_problem {
  std::string kind;
  std::string path;     ///< relative to the code dir ("." for the code dir itself); may be empty
  std::string message;  ///< for people
};

/// The result of the unsaved-work check (client::check_unsaved_work, client::remove).
struct dirty_report {
  std::vector<dirty_repository> repositories;
  std::vector<std::string> loose_files;  ///< up to 5 samples outside every repository
  std::size_t loose_file_count = 0;
  std::vector<dirty_problem> problems;   ///< places the check cannot vouch for
  bool incomplete = false;               ///< the check could not run completely (e.g. no git, or
                                         ///< it ended without its completion line)
  std::string incomplete_reason;
  bool clean() const noexcept {
    return repositories.empty() && loose_file_count == 0 && problems.empty() && !incomplete;
  }
};

/// Thrown by client::remove (code errc::refused) when deleting the VM would lose unsaved work,
/// or when the check could not run completely; report() says what was found.
class DVM_EXPORT unsaved_work_error : public error {
 public:
  unsaved_work_error(const std::string& message, dirty_report report);
  const dirty_report& report() const noexcept { return report_; }

 private:
  dirty_report report_;
};

/// What client::remove did.
struct remove_result {
  std::string vm;
  bool removed = false;
  bool checked = false;  ///< the unsaved-work check ran
  std::vector<std::string> warnings;
};

/// Options of client::copy (flags of limactl copy).
struct copy_options {
  bool recursive = false;
  bool verbose = false;
  std::string backend;  ///< "", "auto", "scp" or "rsync"
};

/// What client::copy copied.
struct copy_result {
  std::string vm;                    ///< the VM copied into or out of
  bool into_vm = false;              ///< host -> VM (false: VM -> host)
  std::vector<std::string> sources;  ///< the operands as given
  std::string target;
  /// Regular files in the sources, and their total size, counted where they are (on the host or
  /// in the guest) just before the copy; a source that is a link counts as what it points to,
  /// links inside a copied directory are not counted.
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::chrono::milliseconds duration{0};
};

/// Options of client::logs.
struct log_options {
  std::string unit;               ///< default: inferred from the VM's service recipe
  std::vector<std::string> args;  ///< journalctl arguments; default "--no-pager -n 100"
  /// Stream journalctl's output to this process's stdout and stderr (`dvm log`, `-f`) instead of
  /// capturing it in logs_result::output.
  bool interactive = false;
};

/// What client::logs showed.
struct logs_result {
  std::string unit;   ///< the unit, as named or inferred from the VM's service recipe
  int exit_code = 0;  ///< journalctl's exit status (128 + N: ended by signal N)
  std::string output; ///< journalctl's stdout, when captured (not interactive)
  std::chrono::milliseconds duration{0};
};

/// The public halves of the VM's own SSH keys (client::ssh_key).
struct ssh_key_result {
  std::string access_public_key;   ///< ~/.ssh/id_ed25519_dvm.pub
  std::string signing_public_key;  ///< ~/.ssh/id_ed25519_dvm_signing.pub
  bool created = false;            ///< false when both keys already existed
};

/// The VM's signing-only GPG key (client::gpg_key).
struct gpg_key_result {
  std::string armored_public_key;
  std::string fingerprint;
  bool created = false;
};

/// The VM file written (or found) by client::init_config.
struct init_result {
  std::filesystem::path path;
  bool created = false;  ///< false: the file already existed and was left alone
};

/// How bad a finding of `doctor` is.
enum class doctor_status { ok, warning, problem };
/// "ok", "warning", "problem".
DVM_EXPORT std::string_view to_string(doctor_status status) noexcept;
DVM_EXPORT std::ostream& operator<<(std::ostream& out, doctor_status status);

/// One finding of `doctor`.
struct doctor_check {
  std::string vm;       ///< "" for checks that are not about one VM
  std::string name;     ///< "state", "limactl", "config", "ports", "permissions", "secrets", "drift"
  doctor_status status = doctor_status::ok;
  std::string message;
};

/// Every finding of client::doctor.
struct doctor_report {
  std::vector<doctor_check> checks;
  std::size_t problems() const noexcept {
    std::size_t n = 0;
    for (const auto& c : checks) if (c.status == doctor_status::problem) ++n;
    return n;
  }
  std::size_t warnings() const noexcept {
    std::size_t n = 0;
    for (const auto& c : checks) if (c.status == doctor_status::warning) ++n;
    return n;
  }
};

/// dvm's and limactl's versions (client::versions).
struct version_info {
  std::string dvm;
  std::string limactl;  ///< "" when limactl is missing
  std::string limactl_problem;  ///< why limactl cannot be used, if it cannot
};

/// Every operation of the `dvm` CLI as a method. Throws dvm::error (and its subclasses) on
/// failure; see the file comment for threading.
class DVM_EXPORT client {
 public:
  /// Cheap: reads no file and runs no limactl until a method needs it.
  explicit client(client_options options = {});
  ~client();
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;

  /// The config and state directories in use.
  const paths& location() const noexcept;
  /// The config files (loading, validation, recipe catalog).
  const config_store& configs() const noexcept;

  // --- configuration -------------------------------------------------------------------------
  /// Writes vms/<name>.toml from a bundled template ("app", "llama", "cloudflared",
  /// "tailscale"); never overwrites.
  init_result init_config(const std::string& name, const std::string& template_name = "app");
  /// What `sync` would do, without changing anything and without calling limactl.
  plan_result plan(const std::string& name);

  // --- state ---------------------------------------------------------------------------------
  /// DVM VMs only (Lima's dvm-* instances plus configured VMs that do not exist yet).
  std::vector<vm_status> list();
  /// One VM; throws errc::not_found when it is neither configured nor a Lima instance.
  vm_status status(const std::string& name);
  /// dvm's version and limactl's; never throws for a missing limactl (see limactl_problem).
  version_info versions();

  // --- lifecycle -----------------------------------------------------------------------------
  /// Creates the VM if missing, applies changed ports/cpus/memory/disk, starts it, then runs
  /// its recipes in the guest (one limactl call, secrets only over stdin).
  sync_result sync(const std::string& name, sync_options options = {});
  /// Syncs every configured VM (or options.names), options.jobs at a time, on worker threads.
  sync_all_result sync_all(sync_all_options options = {});
  /// Starts an existing, stopped VM without running its recipes (a warning event when it is
  /// already running). Throws errc::not_created when the instance does not exist.
  start_result start(const std::string& name);
  /// Stops (when running) and starts an existing VM, without running its recipes.
  start_result restart(const std::string& name);
  /// Stops one VM (a warning event when it is already stopped: stopped is false then).
  stop_result stop(const std::string& name);
  /// Stops every running DVM VM (optionally only the inactive ones).
  stop_all_result stop_all(const stop_all_options& options = {});
  /// Checks for unsaved work (unless options.force), then stops and deletes the instance. The
  /// VM file is kept. Throws dvm::unsaved_work_error (errc::refused) when work would be lost or
  /// the check cannot vouch for the code dir (dirty_report::problems, incomplete). Without a VM
  /// file (missing, or a dangling link) the code dir the instance was created with is checked;
  /// when the instance records none, deletion is refused unless options.force.
  remove_result remove(const std::string& name, const remove_options& options = {});
  /// The unsaved-work check on its own.
  dirty_report check_unsaved_work(const std::string& name);

  // --- in the guest --------------------------------------------------------------------------
  /// Runs argv in the VM's code directory. A non-zero exit is data, not an exception.
  exec_result exec(const std::string& name, const std::vector<std::string>& argv,
                   const exec_options& options = {});
  /// An interactive login shell in the code directory; returns its exit status.
  int shell(const std::string& name);
  /// Copies between the host and one VM. Operands are host paths or "NAME:path" (guest
  /// relative paths are relative to the code dir, "~" is the guest home). A failure throws
  /// (usage for bad host paths, found before any limactl call; refused; lima_failed).
  copy_result copy(const std::vector<std::string>& sources, const std::string& target,
                   const copy_options& options = {});
  /// journalctl -u UNIT in the guest, captured (or streamed with options.interactive). A
  /// non-zero exit is data, as for exec.
  logs_result logs(const std::string& name, const log_options& options = {});
  /// An OpenSSH config block `Host dvm-<name>` (from the instance's own ssh.config) for `ssh`
  /// and editors with remote-SSH support; the session starts in the guest home, not the code
  /// dir. Throws errc::not_created when the instance does not exist.
  std::string ssh_config(const std::string& name);
  /// Creates (once) the VM's Git access and commit-signing SSH keys; returns the public keys.
  ssh_key_result ssh_key(const std::string& name);
  /// Creates (once) the VM's signing-only GPG key; returns its public key.
  gpg_key_result gpg_key(const std::string& name);

  // --- diagnostics ---------------------------------------------------------------------------
  /// Checks the state dir (owner, mode, no links), limactl, every config (or one VM's), file
  /// permissions, secret-looking values in config files, forwards beyond loopback, and drift
  /// between each instance's lima.yaml and its config. Never throws for a finding; findings
  /// are data.
  doctor_report doctor(const std::string& name = {});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace dvm::v0
