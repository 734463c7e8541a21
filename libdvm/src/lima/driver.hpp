// The limactl driver: every limactl call libdvm makes is built and run here, through the
// injected process_runner, following ../shared/spec/lima-contract.md:
//   * the child gets an explicit allowlisted environment and only fds 0-2 (runner),
//   * its working directory is a scratch directory (limactl may drop lima.REJECTED.yaml there),
//   * stdin is always explicit (limactl shell forwards it to the guest),
//   * `shell` flags come before the instance name,
//   * `start NAME` is never used for an instance that does not exist (it would create one),
//   * failures become dvm::lima_error with the subcommand, exit status and a stderr tail.
#pragma once

#include <dvm/events.hpp>
#include <dvm/process.hpp>
#include <dvm/timeouts.hpp>

#include "lima/instance.hpp"
#include "lima/limactl_output.hpp"  // parsing what limactl prints

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// What every driver of one client shares.
struct lima_context {
  std::shared_ptr<process_runner> runner;
  std::string limactl;                   ///< as configured: a path or a name on PATH
  std::vector<std::string> environment;  ///< the allowlisted environment for limactl
  std::filesystem::path scratch_dir;     ///< limactl's working directory
  std::filesystem::path state_dir;       ///< for the version cache
  dvm::timeouts timeouts;
  const cancel_token* cancel = nullptr;
};

/// The environment limactl gets from `from`: PATH, HOME, USER, LOGNAME, LANG, LC_*, TERM, TMPDIR,
/// XDG_CONFIG_HOME, the proxy variables (http_proxy, https_proxy, no_proxy, ftp_proxy, all_proxy,
/// lower and upper case), LIMA_* except LIMA_SSH_PORT_FORWARDER, and the names in `pass_env`
/// ([lima] pass_env). A name that looks like a secret never passes; nor do SSH or
/// _LIMA_OUTPUT_IS_TTY, which change limactl's behaviour.
std::vector<std::string> limactl_environment(const std::map<std::string, std::string>& from,
                                             const std::vector<std::string>& pass_env = {});

/// A guest command for `limactl shell`.
struct shell_request {
  std::vector<std::string> command;  ///< empty: an interactive login shell
  std::string workdir = "/";
  stdio_mode stdin_mode = stdio_mode::null;
  const stdin_payload* input = nullptr;
  stdio_mode stdout_mode = stdio_mode::pipe;
  stdio_mode stderr_mode = stdio_mode::pipe;
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
  std::chrono::milliseconds timeout{0};
};

class lima_driver {
 public:
  /// `vm` is the public name events are reported under; `emit` receives limactl_started and
  /// limactl_finished events.
  lima_driver(const lima_context& context, std::string vm, std::function<void(event)> emit);

  /// limactl's version; throws lima_error(lima_missing) when it cannot be run and
  /// lima_error(lima_version) when it is older than 2.0.0. Cached in the state dir per binary
  /// (path, size, modification time), so it costs a call only when limactl changes.
  std::string version();

  /// The instance, or nullopt when Lima does not know it (`list --json NAME`).
  std::optional<instance_info> query(std::string_view instance);
  /// Every instance (`list --json`).
  std::vector<instance_info> list();

  void create(std::string_view instance, std::string_view lima_yaml);
  /// Boots a stopped instance. On failure stops it with -f and reports the tail of the host
  /// agent's log.
  void start(std::string_view instance, const std::string& instance_dir);
  /// Graceful stop; falls back to `stop -f` when that fails or times out.
  void stop(std::string_view instance);
  void remove(std::string_view instance);
  void edit(std::string_view instance, const std::string& set_expression);
  /// Runs a guest command; the result's exit code is the guest command's.
  process_result shell(std::string_view instance, const shell_request& request);
  /// `limactl copy [flags] SOURCES... TARGET` (endpoints already in INSTANCE:PATH form).
  process_result copy(const std::vector<std::string>& flags, const std::vector<std::string>& operands);

  /// The argv (without the limactl program) of the calls above, for `dvm plan`.
  static std::vector<std::string> create_args(std::string_view instance);
  static std::vector<std::string> start_args(std::string_view instance,
                                             std::chrono::milliseconds timeout);
  /// The --timeout given to `limactl start` for our own limit `ours`: a minute shorter, so that
  /// limactl reports its own timeout before we kill it.
  static std::chrono::milliseconds limactl_start_timeout(std::chrono::milliseconds ours);
  static std::vector<std::string> list_args(std::string_view instance);
  static std::vector<std::string> shell_args(std::string_view instance, const shell_request& request);
  static std::vector<std::string> edit_args(std::string_view instance, const std::string& set_expression);

  /// Number of limactl processes this driver has started.
  int calls() const noexcept { return calls_; }

 private:
  process_result run(std::vector<std::string> args, stdio_mode stdin_mode,
                     const stdin_payload* input, std::chrono::milliseconds timeout,
                     stdio_mode stdout_mode = stdio_mode::pipe, stdio_mode stderr_mode = stdio_mode::pipe,
                     std::function<void(std::string_view)> on_stdout = {},
                     std::function<void(std::string_view)> on_stderr = {});
  /// Throws the right lima_error for a failed call.
  [[noreturn]] void fail(const std::string& subcommand, const process_result& result,
                         const std::string& what);
  std::string resolved_limactl();

  const lima_context& context_;
  std::string vm_;
  std::function<void(event)> emit_;
  int calls_ = 0;
  std::optional<std::string> resolved_;
};

}  // namespace dvm::v0::detail
