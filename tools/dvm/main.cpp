// dvm: the reference command-line tool of libdvm. main() only parses arguments and hands over
// to a command (tools/dvm/commands/*.cpp); every operation is a libdvm call.
#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include "cli.hpp"
#include "output.hpp"
#include "style.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include <sys/resource.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace {

using dvm_cli::cli_state;

int report_error(const dvm::error& e, const cli_state& state) {
  dvm_cli::output(state).error(e);
  return e.exit_code();
}

// The index of the command word: the first word after the global flags (0 when there is none).
std::size_t command_index(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") return 0;
    if (!args[i].starts_with("-")) return i;
  }
  return 0;
}

// dvm's environment may hold secrets (`GITHUB_TOKEN=... dvm sync app`) for its whole run: no
// core dump of dvm may write them to disk, and limactl (which gets them on its stdin) inherits
// the core limit of 0.
void disable_core_dumps() {
  struct rlimit none {};
  ::setrlimit(RLIMIT_CORE, &none);
#if defined(__linux__)
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  disable_core_dumps();
  std::vector<std::string> args(argv, argv + argc);
  cli_state state;

  CLI::App app{"dvm keeps each software project in its own Lima VM, with safe defaults: no host\n"
               "mounts, ports closed unless listed, secrets only over stdin, AI agents sandboxed.",
               "dvm"};
  app.set_version_flag("--version", std::string(dvm::version()));
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.add_flag("--json", state.json, "Print JSON (one document, or JSON lines for progress events)");
  app.add_flag("--verbose", state.verbose, "Also show every limactl call");
  app.footer(
      "Config: $DVM_CONFIG (default ~/.config/dvm): config.toml, vms/<name>.toml, recipes/*.sh.\n"
      "Environment: DVM_CONFIG, DVM_STATE, LIMACTL (limactl binary), LIMA_HOME, DVM_TIMEOUT (cap in seconds on\n"
      "every limactl call).\n"
      "Exit codes: 0 ok, 1 operation failed, 2 usage or config error (nothing done), 3 limactl missing or\n"
      "too old; `dvm ssh` exits with the guest command's status.\n"
      "Run `dvm COMMAND --help` for a command's options.");

  dvm_cli::command_list commands;
  for (auto add : {dvm_cli::add_init, dvm_cli::add_edit, dvm_cli::add_templates, dvm_cli::add_plan,
                   dvm_cli::add_sync, dvm_cli::add_start, dvm_cli::add_restart, dvm_cli::add_sh,
                   dvm_cli::add_ssh, dvm_cli::add_ssh_config, dvm_cli::add_cp, dvm_cli::add_log,
                   dvm_cli::add_ls, dvm_cli::add_status, dvm_cli::add_stop, dvm_cli::add_rm,
                   dvm_cli::add_ssh_key, dvm_cli::add_gpg_key, dvm_cli::add_doctor, dvm_cli::add_recipes,
                   dvm_cli::add_completion, dvm_cli::add_version, dvm_cli::add_help}) {
    add(app, commands);
  }

  // An unknown command is named, with the closest ones (CLI11 would only say "not expected").
  if (std::size_t i = command_index(args); i != 0 && !args[i].starts_with("__") &&
                                           dvm_cli::find_command(app, args[i]) == nullptr) {
    state.json = std::find(args.begin(), args.end(), "--json") != args.end();
    return report_error(dvm_cli::unknown_command(app, args[i]), state);
  }

  std::vector<const char*> parse_argv;
  for (const auto& word : args) parse_argv.push_back(word.c_str());
  try {
    app.parse(static_cast<int>(parse_argv.size()), parse_argv.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = app.get_subcommands().empty() ? "dvm" : "dvm " + app.get_subcommands().front()->get_name();
    return report_error(dvm::error(dvm::errc::usage, std::string(e.what()) + " (see `" + where + " --help`)"), state);
  }

  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  const CLI::App* chosen = app.get_subcommands().front();

  dvm_cli::install_signal_handlers();
  try {
    // Help and completion work whatever the environment says; every other command checks it.
    const std::string& name = chosen->get_name();
    if (name != "help" && name != "completion" && name != "__complete") {
      const char* timeout = std::getenv("DVM_TIMEOUT");
      state.timeout_cap = dvm::parse_timeout_cap(timeout != nullptr ? timeout : "");
    }
    for (const auto& c : commands) {
      if (c.app == chosen) return c.run(state);
    }
  } catch (const dvm::error& e) {
    return dvm_cli::exit_code_after_signal(report_error(e, state));
  } catch (const std::exception& e) {
    return report_error(dvm::error(dvm::errc::internal, std::string("unexpected failure: ") + e.what()), state);
  }
  return 0;
}
