// dvm: the reference command-line tool of libdvm. It parses arguments (CLI11), calls the library
// and presents the result; it holds no logic of its own.
#include <dvm/client.hpp>
#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include "commands.hpp"
#include "completion.hpp"
#include "output.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

#include <sys/resource.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace {

using dvm_cli::arguments;
using dvm_cli::cli_state;

int report_error(const dvm::error& e, const cli_state& state) {
  if (state.json) {
    dvm_cli::print_json(dvm_cli::error_json(e));
  } else {
    std::cerr << "dvm: error: " << e.what() << '\n';
  }
  return e.exit_code();
}

// `dvm ssh NAME [--] CMD...` and `dvm log NAME [UNIT] [ARGS...]` pass the words after NAME
// through untouched (they may look like options: `ls -la`, `-f`). Those words are split off
// before CLI11 sees the rest.
std::vector<std::string> split_passthrough(std::vector<std::string>& args) {
  std::size_t i = 1;
  while (i < args.size() && args[i].starts_with("-")) ++i;  // global flags
  if (i >= args.size() || (args[i] != "ssh" && args[i] != "log")) return {};
  ++i;
  while (i < args.size() && args[i].starts_with("-") && args[i] != "--") ++i;  // its own flags
  if (i >= args.size() || args[i] == "--") return {};
  std::size_t name = i;
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(name) + 1, args.end());
  args.resize(name + 1);
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  return rest;
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
  arguments a;
  a.passthrough = split_passthrough(args);

  CLI::App app{"dvm keeps each software project in its own Lima VM, with safe defaults: no host\n"
               "mounts, ports closed unless listed, secrets only over stdin, AI agents sandboxed.",
               "dvm"};
  app.set_version_flag("--version", std::string(dvm::version()));
  app.require_subcommand(0, 1);
  app.fallthrough();
  cli_state state;
  app.add_flag("--json", state.json, "Print JSON (one document, or JSON lines for progress events)");
  app.add_flag("--verbose", state.verbose, "Also show every limactl call");
  app.footer(
      "Config: $DVM_CONFIG (default ~/.config/dvm): config.toml, vms/<name>.toml, recipes/*.sh.\n"
      "Environment: DVM_CONFIG, DVM_STATE, LIMACTL (limactl binary), LIMA_HOME, DVM_TIMEOUT (cap in seconds on\n"
      "every limactl call).\n"
      "Exit codes: 0 ok, 1 operation failed, 2 usage or config error (nothing done), 3 limactl missing or\n"
      "too old; `dvm ssh` exits with the guest command's status.\n"
      "Run `dvm COMMAND --help` for a command's options.");

  bool list_recipes = false;
  std::string help_topic;

  auto* init = app.add_subcommand("init", "Write vms/NAME.toml from a bundled template; never overwrites");
  init->add_option("name", a.name, "VM name: [a-z][a-z0-9-]*, at most 30 characters")->required();
  init->add_option("-t,--template", a.template_name, "app, llama, cloudflared or tailscale")
      ->capture_default_str();
  init->add_flag("--edit", a.edit, "Open the new file in $VISUAL or $EDITOR");

  auto* plan = app.add_subcommand("plan",
      "Show what `dvm sync NAME` would do: the lima.yaml, the limactl calls and the guest program\n"
      "(secrets as <redacted>). Changes nothing and works without Lima");
  plan->add_option("name", a.name, "VM name")->required();

  auto* sync = app.add_subcommand("sync",
      "Create the VM if missing, apply changed ports/cpus/memory/disk, start it, then run its\n"
      "recipes in the guest (one limactl call; secrets only over stdin)");
  sync->add_option("name", a.name, "VM name");
  sync->add_flag("--all", a.all, "Sync every configured VM");
  sync->add_option("-j,--jobs", a.jobs, "With --all: VMs synced at the same time")
      ->capture_default_str()
      ->check(CLI::Range(1U, 64U));

  auto* sh = app.add_subcommand("sh", "Open an interactive login shell in the VM's code directory");
  sh->add_option("name", a.name, "VM name")->required();

  auto* ssh = app.add_subcommand("ssh",
      "Run one command in the VM's code directory: dvm ssh NAME [--] CMD [ARGS...].\n"
      "dvm exits with the command's own status");
  ssh->add_option("name", a.name, "VM name")->required();

  auto* cp = app.add_subcommand("cp",
      "Copy between the host and one VM: dvm cp [-r] SRC... DST, where VM paths are NAME:path\n"
      "(relative to the code directory; ~ is the guest home). Files copied into the VM are\n"
      "made accessible to the AI agent user. A symlink in the code directory is never followed:\n"
      "a copy into or out of the VM through one is refused");
  cp->add_flag("-r,--recursive", a.recursive, "Copy directories");
  cp->add_flag("-v", a.copy_verbose, "Verbose scp/rsync output");
  cp->add_option("--backend", a.backend, "auto, scp or rsync (limactl copy)");
  cp->add_option("operands", a.operands, "SRC... DST")->required()->expected(2, -1);

  auto* log = app.add_subcommand("log",
      "Show a systemd unit's journal in the VM: dvm log NAME [UNIT] [journalctl args...].\n"
      "The unit is inferred for VMs with one service recipe (cloudflared, llama, tailscale);\n"
      "default args: --no-pager -n 100");
  log->add_option("name", a.name, "VM name")->required();

  auto* ls = app.add_subcommand("ls", "List DVM VMs (configured VMs that do not exist yet show as absent)");
  ls->add_flag("--recipes", list_recipes, "List recipes instead (same as `dvm recipes`)");

  auto* status = app.add_subcommand("status", "Show one VM: state, resources, ports and their host binding");
  status->add_option("name", a.name, "VM name")->required();

  auto* stop = app.add_subcommand("stop", "Stop one VM, or every DVM VM with --all");
  stop->add_option("name", a.name, "VM name");
  stop->add_flag("--all", a.all, "Stop every running DVM VM");
  stop->add_flag("--inactive", a.inactive,
                 "With --all: skip VMs in use (a shell, a tmux/zellij session, an active service unit)");
  stop->add_flag("-f,--force", a.force, "With --inactive: also stop VMs whose activity check failed");

  auto* rm = app.add_subcommand("rm",
      "Delete a VM's Lima instance. First checks every Git repository and loose file under the\n"
      "code directory for unsaved work and refuses if there is any, or if it cannot look everywhere\n"
      "(an unreadable directory, a symlinked .git or code directory, a check that did not finish).\n"
      "Without vms/NAME.toml it checks the code directory the instance was created with.\n"
      "Keeps vms/NAME.toml");
  rm->add_option("name", a.name, "VM name")->required();
  rm->add_flag("--yes", a.yes, "Required: confirms the deletion")->required();
  rm->add_flag("-f,--force", a.force, "Skip the unsaved-work check");

  auto* ssh_key = app.add_subcommand("ssh-key",
      "Create (once) the VM's own Git access key and commit-signing key and print the public keys");
  ssh_key->add_option("name", a.name, "VM name")->required();
  auto* gpg_key = app.add_subcommand("gpg-key",
      "Create (once) a disposable GPG signing key in the VM (ed25519, no passphrase, 1 year)");
  gpg_key->add_option("name", a.name, "VM name")->required();

  auto* doctor = app.add_subcommand("doctor",
      "Check the state dir, limactl, the config files (validity, permissions, secret-looking\n"
      "values), ports exposed beyond loopback, and drift between each instance and its config.\n"
      "Exit 1 when a problem is found");
  doctor->add_option("name", a.name, "Only this VM");
  std::string shell_name;
  auto* completion = app.add_subcommand("completion",
      "Print a completion script: source <(dvm completion bash), or zsh / fish");
  completion->add_option("shell", shell_name, "bash, zsh or fish")->required();
  std::string complete_what;
  auto* complete = app.add_subcommand("__complete", "Words for the completion scripts");
  complete->group("");  // hidden
  complete->add_option("what", complete_what, "vms or templates")->required();
  auto* recipes = app.add_subcommand("recipes", "List the bundled and user recipes");
  auto* version = app.add_subcommand("version", "Print the versions of dvm and limactl");
  auto* help = app.add_subcommand("help", "Show help for dvm or one command");
  help->add_option("command", help_topic, "Command name");

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
    dvm::error usage(dvm::errc::usage, std::string(e.what()) + " (see `" + where + " --help`)");
    return report_error(usage, state);
  }

  if (app.get_subcommands().empty() || help->parsed()) {
    if (!help_topic.empty()) {
      for (auto* sub : app.get_subcommands({})) {
        if (sub->get_name() == help_topic) {
          std::cout << sub->help(app.get_name());  // "Usage: dvm rm ...", as `dvm rm --help` says
          return 0;
        }
      }
      return report_error(dvm::error(dvm::errc::usage, "unknown command \"" + help_topic + "\""), state);
    }
    std::cout << app.help();
    return 0;
  }

  dvm_cli::install_signal_handlers();

  try {
    // One handler per command (tools/dvm/commands.cpp); completion needs the CLI11 app itself.
    const std::pair<CLI::App*, int (*)(const cli_state&, arguments&)> handlers[] = {
        {init, dvm_cli::run_init},       {plan, dvm_cli::run_plan},       {sync, dvm_cli::run_sync},
        {sh, dvm_cli::run_sh},           {ssh, dvm_cli::run_ssh},         {cp, dvm_cli::run_cp},
        {log, dvm_cli::run_log},         {recipes, dvm_cli::run_recipes}, {status, dvm_cli::run_status},
        {stop, dvm_cli::run_stop},       {rm, dvm_cli::run_rm},           {ssh_key, dvm_cli::run_ssh_key},
        {gpg_key, dvm_cli::run_gpg_key}, {doctor, dvm_cli::run_doctor},   {version, dvm_cli::run_version},
    };
    if (ls->parsed()) return list_recipes ? dvm_cli::run_recipes(state, a) : dvm_cli::run_ls(state, a);
    for (const auto& [command, handler] : handlers) {
      if (command->parsed()) return handler(state, a);
    }

    if (completion->parsed()) {
      std::cout << dvm_cli::completion_script(app, shell_name);
      return 0;
    }

    if (complete->parsed()) {
      // Config files only: completion must be instant and never call limactl.
      if (complete_what == "vms") {
        auto client = dvm_cli::make_client(state, nullptr);
        for (const auto& n : client.configs().vm_names()) std::cout << n << '\n';
      } else if (complete_what == "templates") {
        for (const auto& t : dvm::init_template_names()) std::cout << t << '\n';
      } else {
        throw dvm::error(dvm::errc::usage, "__complete takes vms or templates");
      }
      return 0;
    }
  } catch (const dvm::error& e) {
    return dvm_cli::exit_code_after_signal(report_error(e, state));
  } catch (const std::exception& e) {
    return report_error(dvm::error(dvm::errc::internal, std::string("unexpected failure: ") + e.what()), state);
  }
  return 0;
}
