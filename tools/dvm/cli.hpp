// What every `dvm` command shares: the global flags, the client with its event display, signal
// handling, and the registry each command file (tools/dvm/commands/*.cpp) adds itself to.
#pragma once

#include <dvm/client.hpp>
#include <dvm/error.hpp>

#include "output.hpp"
#include "progress.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace dvm_cli {

/// The global flags.
struct cli_state {
  bool json = false;
  bool verbose = false;
  /// DVM_TIMEOUT, checked before any command runs (dvm::parse_timeout_cap).
  std::optional<std::chrono::milliseconds> timeout_cap;
};

/// One registered command: its CLI11 sub-app and what runs when it was parsed.
struct command {
  CLI::App* app;
  std::function<int(const cli_state&)> run;
};
using command_list = std::vector<command>;

// Each command file defines one of these: it adds the sub-command (options, help, an example)
// to `root` and its handler to `out`.
void add_init(CLI::App& root, command_list& registry);
void add_edit(CLI::App& root, command_list& registry);
void add_templates(CLI::App& root, command_list& registry);
void add_plan(CLI::App& root, command_list& registry);
void add_sync(CLI::App& root, command_list& registry);
void add_start(CLI::App& root, command_list& registry);
void add_restart(CLI::App& root, command_list& registry);
void add_sh(CLI::App& root, command_list& registry);
void add_ssh(CLI::App& root, command_list& registry);
void add_ssh_config(CLI::App& root, command_list& registry);
void add_cp(CLI::App& root, command_list& registry);
void add_log(CLI::App& root, command_list& registry);
void add_ls(CLI::App& root, command_list& registry);
void add_status(CLI::App& root, command_list& registry);
void add_stop(CLI::App& root, command_list& registry);
void add_rm(CLI::App& root, command_list& registry);
void add_ssh_key(CLI::App& root, command_list& registry);
void add_gpg_key(CLI::App& root, command_list& registry);
void add_doctor(CLI::App& root, command_list& registry);
void add_recipes(CLI::App& root, command_list& registry);
void add_completion(CLI::App& root, command_list& registry);
void add_version(CLI::App& root, command_list& registry);
void add_help(CLI::App& root, command_list& registry);

/// How this run prints results and errors (--json or text).
inline const formatter& output(const cli_state& state) { return formatter_for(state.json); }

/// For `ssh` and `log`: every word after the sub-command's first positional (NAME) goes to
/// `words` untouched, even when it looks like an option (`ls -la`, `-f`, `--json`), through
/// CLI11's positionals_at_end(). One leading "--" is dropped. (CLI11 2.1's prefix_command()
/// does not fit: on a sub-command it hands the rest to the parent app, which refuses it.)
void add_passthrough(CLI::App& app, std::vector<std::string>& words, const char* name, const char* help);
/// `words` without the one leading "--" that separates them from NAME.
std::vector<std::string> without_separator(std::vector<std::string> words);

/// `dvm recipes`, also `dvm ls --recipes`.
int print_recipes(const cli_state& state);

/// The sub-command's help footer: "Example:" and the given lines, indented.
std::string examples(std::initializer_list<const char*> lines);

/// Ctrl-C, SIGTERM and SIGHUP stop the running limactl call through the client's cancel token.
void install_signal_handlers();
/// 128 + the signal when dvm was interrupted, else `code`.
int exit_code_after_signal(int code);
/// Whether dvm received this signal (SIGINT, SIGTERM or SIGHUP).
bool interrupted_by(int sig);

/// A client whose events go to `view`, or to stderr (warnings, VM state changes; every limactl
/// call with --verbose) when `view` is null.
dvm::client make_client(const cli_state& state, progress_view* view);
/// The progress display for a command on one VM (`single_vm`) or several.
progress_view::style progress_style(const cli_state& state, bool single_vm);

/// The visible sub-command called `word` (its name or an alias), or null.
const CLI::App* find_command(const CLI::App& root, const std::string& word);
/// `unknown command "X"` with the closest command names, as a usage error.
dvm::error unknown_command(const CLI::App& root, const std::string& word);

}  // namespace dvm_cli
