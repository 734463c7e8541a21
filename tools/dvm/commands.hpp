// The `dvm` commands. Each one calls libdvm and presents the result (text, or JSON with
// --json); none holds logic of its own. main.cpp parses the arguments into dvm_cli::arguments
// and calls one of these.
#pragma once

#include <dvm/client.hpp>

#include "progress.hpp"

#include <string>
#include <vector>

namespace dvm_cli {

/// Global flags.
struct cli_state {
  bool json = false;
  bool verbose = false;
};

/// The parsed arguments of every command (each uses the fields its --help lists).
struct arguments {
  std::string name;
  std::string template_name = "app";
  bool edit = false;
  bool all = false;
  unsigned jobs = 4;
  bool inactive = false;
  bool force = false;
  bool yes = false;
  bool recursive = false;
  bool copy_verbose = false;
  std::string backend;
  std::vector<std::string> operands;     ///< cp: SRC... DST
  std::vector<std::string> passthrough;  ///< ssh: the guest command; log: [UNIT] [ARGS...]
};

/// Ctrl-C, SIGTERM and SIGHUP stop the running limactl call through the client's cancel token.
void install_signal_handlers();
/// 128 + the signal when dvm was interrupted, else `code`.
int exit_code_after_signal(int code);

/// A client whose events go to `view`, or to stderr (warnings, VM state changes; every limactl
/// call with --verbose) when `view` is null.
dvm::client make_client(const cli_state& state, progress_view* view);

int run_init(const cli_state& state, arguments& a);
int run_plan(const cli_state& state, arguments& a);
int run_sync(const cli_state& state, arguments& a);
int run_sh(const cli_state& state, arguments& a);
int run_ssh(const cli_state& state, arguments& a);
int run_cp(const cli_state& state, arguments& a);
int run_log(const cli_state& state, arguments& a);
int run_recipes(const cli_state& state, arguments& a);
int run_ls(const cli_state& state, arguments& a);
int run_status(const cli_state& state, arguments& a);
int run_stop(const cli_state& state, arguments& a);
int run_rm(const cli_state& state, arguments& a);
int run_ssh_key(const cli_state& state, arguments& a);
int run_gpg_key(const cli_state& state, arguments& a);
int run_doctor(const cli_state& state, arguments& a);
int run_version(const cli_state& state, arguments& a);

}  // namespace dvm_cli
