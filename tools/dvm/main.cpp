// dvm: the reference command-line tool of libdvm. It parses arguments (CLI11), calls the library
// and presents the result; it holds no logic of its own.
#include <dvm/client.hpp>
#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include "completion.hpp"
#include "output.hpp"
#include "progress.hpp"

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include <unistd.h>

extern char** environ;

namespace {

namespace json = boost::json;
using dvm_cli::print_json;

// Ctrl-C / SIGTERM: the running limactl call is stopped through the cancel token, and dvm exits
// with 128 + the signal once the library has unwound (locks released, guest cleaned up).
dvm::cancel_token g_cancel;
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  g_signal = sig;
  g_cancel.request();
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return so the cancel is seen promptly
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

struct cli_state {
  bool json = false;
  bool verbose = false;
};

dvm::client make_client(const cli_state& state, dvm_cli::progress_view* view) {
  dvm::client_options options;
  options.cancel = &g_cancel;
  if (view == nullptr) {
    // Commands without a progress display of their own: warnings and VM state changes on
    // stderr; with --verbose every limactl call too (as JSON lines on stderr with --json, so
    // stdout keeps its one document).
    static dvm_cli::progress_view side(
        state.json ? dvm_cli::progress_view::style::json : dvm_cli::progress_view::style::plain,
        state.verbose, std::cerr);
    if (!state.json || state.verbose) view = &side;
  }
  if (view != nullptr) options.on_event = [view](const dvm::event& e) { (*view)(e); };
  // DVM_TIMEOUT=<seconds> caps every limactl time limit (tests and CI use it).
  if (const char* cap = std::getenv("DVM_TIMEOUT"); cap != nullptr && *cap != '\0') {
    std::chrono::milliseconds limit{static_cast<long long>(std::strtod(cap, nullptr) * 1000)};
    if (limit.count() > 0) {
      for (auto* t : {&options.timeouts.query, &options.timeouts.create, &options.timeouts.start,
                      &options.timeouts.stop, &options.timeouts.change, &options.timeouts.guest,
                      &options.timeouts.command}) {
        *t = std::min(*t, limit);
      }
    }
  }
  return dvm::client(std::move(options));
}

dvm_cli::progress_view::style progress_style(const cli_state& state, bool single_vm) {
  if (state.json) return dvm_cli::progress_view::style::json;
  if (single_vm && ::isatty(STDERR_FILENO) != 0 && std::getenv("TERM") != nullptr &&
      std::string(std::getenv("TERM")) != "dumb") {
    return dvm_cli::progress_view::style::live;
  }
  return dvm_cli::progress_view::style::plain;
}

int report_error(const dvm::error& e, const cli_state& state) {
  if (state.json) {
    print_json(dvm_cli::error_json(e));
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

void print_lines(const std::vector<std::string>& lines) {
  for (const auto& l : lines) std::cout << l << '\n';
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> passthrough = split_passthrough(args);

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
  std::vector<std::string> operands;
  bool list_recipes = false;
  std::string help_topic;

  auto* init = app.add_subcommand("init", "Write vms/NAME.toml from a bundled template; never overwrites");
  init->add_option("name", name, "VM name: [a-z][a-z0-9-]*, at most 30 characters")->required();
  init->add_option("-t,--template", template_name, "app, llama, cloudflared or tailscale")
      ->capture_default_str();
  init->add_flag("--edit", edit, "Open the new file in $VISUAL or $EDITOR");

  auto* plan = app.add_subcommand("plan",
      "Show what `dvm sync NAME` would do: the lima.yaml, the limactl calls and the guest program\n"
      "(secrets as <redacted>). Changes nothing and works without Lima");
  plan->add_option("name", name, "VM name")->required();

  auto* sync = app.add_subcommand("sync",
      "Create the VM if missing, apply changed ports/cpus/memory/disk, start it, then run its\n"
      "recipes in the guest (one limactl call; secrets only over stdin)");
  sync->add_option("name", name, "VM name");
  sync->add_flag("--all", all, "Sync every configured VM");
  sync->add_option("-j,--jobs", jobs, "With --all: VMs synced at the same time")
      ->capture_default_str()
      ->check(CLI::Range(1U, 64U));

  auto* sh = app.add_subcommand("sh", "Open an interactive login shell in the VM's code directory");
  sh->add_option("name", name, "VM name")->required();

  auto* ssh = app.add_subcommand("ssh",
      "Run one command in the VM's code directory: dvm ssh NAME [--] CMD [ARGS...].\n"
      "dvm exits with the command's own status");
  ssh->add_option("name", name, "VM name")->required();

  auto* cp = app.add_subcommand("cp",
      "Copy between the host and one VM: dvm cp [-r] SRC... DST, where VM paths are NAME:path\n"
      "(relative to the code directory; ~ is the guest home). Files copied into the VM are\n"
      "made accessible to the AI agent user");
  cp->add_flag("-r,--recursive", recursive, "Copy directories");
  cp->add_flag("-v", copy_verbose, "Verbose scp/rsync output");
  cp->add_option("--backend", backend, "auto, scp or rsync (limactl copy)");
  cp->add_option("operands", operands, "SRC... DST")->required()->expected(2, -1);

  auto* log = app.add_subcommand("log",
      "Show a systemd unit's journal in the VM: dvm log NAME [UNIT] [journalctl args...].\n"
      "The unit is inferred for VMs with one service recipe (cloudflared, llama, tailscale);\n"
      "default args: --no-pager -n 100");
  log->add_option("name", name, "VM name")->required();

  auto* ls = app.add_subcommand("ls", "List DVM VMs (configured VMs that do not exist yet show as absent)");
  ls->add_flag("--recipes", list_recipes, "List recipes instead (same as `dvm recipes`)");

  auto* status = app.add_subcommand("status", "Show one VM: state, resources, ports and their host binding");
  status->add_option("name", name, "VM name")->required();

  auto* stop = app.add_subcommand("stop", "Stop one VM, or every DVM VM with --all");
  stop->add_option("name", name, "VM name");
  stop->add_flag("--all", all, "Stop every running DVM VM");
  stop->add_flag("--inactive", inactive,
                 "With --all: skip VMs in use (a shell, a tmux/zellij session, an active service unit)");
  stop->add_flag("-f,--force", force, "With --inactive: also stop VMs whose activity check failed");

  auto* rm = app.add_subcommand("rm",
      "Delete a VM's Lima instance. First checks every Git repository and loose file under the\n"
      "code directory for unsaved work and refuses if there is any. Keeps vms/NAME.toml");
  rm->add_option("name", name, "VM name")->required();
  rm->add_flag("--yes", yes, "Required: confirms the deletion")->required();
  rm->add_flag("-f,--force", force, "Skip the unsaved-work check");

  auto* ssh_key = app.add_subcommand("ssh-key",
      "Create (once) the VM's own Git access key and commit-signing key and print the public keys");
  ssh_key->add_option("name", name, "VM name")->required();
  auto* gpg_key = app.add_subcommand("gpg-key",
      "Create (once) a disposable GPG signing key in the VM (ed25519, no passphrase, 1 year)");
  gpg_key->add_option("name", name, "VM name")->required();

  auto* doctor = app.add_subcommand("doctor",
      "Check limactl, the config files (validity, permissions, secret-looking values), ports\n"
      "exposed beyond loopback, and drift between each instance and its config. Exit 1 when\n"
      "a problem is found");
  doctor->add_option("name", name, "Only this VM");
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
  for (const auto& a : args) parse_argv.push_back(a.c_str());
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

  install_signal_handlers();
  auto signal_exit = [](int code) { return g_signal != 0 ? 128 + g_signal : code; };

  try {
    if (init->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::init_result r = client.init_config(name, template_name);
      if (state.json) {
        print_json({{"path", r.path.string()}, {"created", r.created}});
      } else if (r.created) {
        std::cout << "dvm: created " << r.path.string() << '\n';
      } else {
        std::cerr << "dvm: " << r.path.string() << " already exists; not overwritten\n";
      }
      if (edit) {
        const char* editor = std::getenv("VISUAL");
        if (editor == nullptr || *editor == '\0') editor = std::getenv("EDITOR");
        std::vector<std::string> command = split_words(editor != nullptr && *editor != '\0' ? editor : "vi");
        command.push_back(r.path.string());
        dvm::process_spec spec;
        spec.argv = command;
        for (char** e = environ; *e != nullptr; ++e) spec.environment.emplace_back(*e);
        spec.stdin_mode = spec.stdout_mode = spec.stderr_mode = dvm::stdio_mode::inherit;
        dvm::process_result er = dvm::make_default_runner()->run(spec);
        if (er.start_failed) throw dvm::error(dvm::errc::usage, "cannot start the editor: " + er.err);
        return er.exit_code < 0 ? 1 : er.exit_code;
      }
      return 0;
    }

    if (plan->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::plan_result p = client.plan(name);
      if (state.json) {
        print_json(dvm_cli::to_json(p));
        return 0;
      }
      for (const auto& w : p.warnings) std::cerr << "dvm: warning: " << w << '\n';
      std::cout << "# dvm plan for " << p.vm << " (nothing is changed)\n\n";
      std::cout << "## " << p.instance << "/lima.yaml\n\n" << p.lima_yaml << '\n';
      std::cout << "## limactl calls of `dvm sync " << p.vm << "` on a machine where " << p.instance
                << " does not exist yet\n\n";
      for (const auto& c : p.calls) {
        std::string line;
        for (const auto& a : c.argv) line += (line.empty() ? "" : " ") + a;
        std::cout << "  " << line;
        if (c.stdin_text == p.lima_yaml && !c.stdin_text.empty()) std::cout << "    < lima.yaml above";
        if (c.stdin_text == p.guest_program && !c.stdin_text.empty()) std::cout << "    < guest program below";
        std::cout << '\n';
      }
      std::cout << "\n(An existing VM: `limactl list --json` and the `shell` call; `stop`, `edit --set` and `start`\n"
                   "only when ports, cpus, memory or disk differ. The version check is cached.)\n\n";
      std::cout << "## guest program (stdin of the shell call; secrets: ";
      if (p.secrets.empty()) std::cout << "none";
      for (std::size_t i = 0; i < p.secrets.size(); ++i) std::cout << (i ? ", " : "") << p.secrets[i];
      std::cout << ")\n\n" << p.guest_program;
      return 0;
    }

    if (sync->parsed()) {
      if (all == !name.empty()) {
        throw dvm::error(dvm::errc::usage, all ? "sync --all takes no VM name" : "sync needs a VM name or --all");
      }
      dvm_cli::progress_view view(progress_style(state, !all), state.verbose);
      auto client = make_client(state, &view);
      if (!all) {
        dvm::sync_result r = client.sync(name);
        if (state.json) {
          print_json({{"result", dvm_cli::to_json(r)}});
        } else {
          std::cout << r.vm << ": synced in " << dvm_cli::seconds_text(r.duration) << " ("
                    << r.recipes.size() << " recipe" << (r.recipes.size() == 1 ? "" : "s") << ", "
                    << r.limactl_calls << " limactl call" << (r.limactl_calls == 1 ? "" : "s") << ")\n";
        }
        return signal_exit(0);
      }
      dvm::sync_all_options options;
      options.jobs = jobs;
      dvm::sync_all_result r = client.sync_all(options);
      if (state.json) {
        json::array results;
        for (const auto& o : r.outcomes) {
          json::object item{{"vm", o.vm}, {"ok", o.ok}};
          if (o.result) item["result"] = dvm_cli::to_json(*o.result);
          if (!o.ok) item["error"] = json::object{{"code", o.error_code}, {"message", o.message}};
          results.push_back(std::move(item));
        }
        print_json({{"results", std::move(results)}, {"ok", r.ok}, {"failed", r.failed}});
      } else {
        for (const auto& o : r.outcomes) {
          if (o.ok) {
            std::cout << o.vm << ": ok (" << dvm_cli::seconds_text(o.result->duration) << ")\n";
          } else {
            std::cerr << "dvm: sync failed: " << o.vm << ": " << o.message << '\n';
          }
        }
        std::cout << "dvm sync --all: " << r.ok << " ok, " << r.failed << " failed\n";
      }
      return signal_exit(r.failed == 0 ? 0 : 1);
    }

    if (sh->parsed()) {
      auto client = make_client(state, nullptr);
      return signal_exit(client.shell(name));
    }

    if (ssh->parsed()) {
      if (passthrough.empty()) throw dvm::error(dvm::errc::usage, "ssh needs a command: dvm ssh NAME [--] CMD [ARGS...] (use `dvm sh NAME` for a shell)");
      auto client = make_client(state, nullptr);
      dvm::exec_options options;
      options.interactive = true;
      return client.exec(name, passthrough, options).exit_code;
    }

    if (cp->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::copy_options options{recursive, copy_verbose || state.verbose, backend};
      std::string target = operands.back();
      operands.pop_back();
      return signal_exit(client.copy(operands, target, options));
    }

    if (log->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::log_options options;
      if (!passthrough.empty() && !passthrough.front().starts_with("-")) {
        options.unit = passthrough.front();
        passthrough.erase(passthrough.begin());
      }
      options.args = passthrough;
      return signal_exit(client.logs(name, options));
    }

    if (recipes->parsed() || (ls->parsed() && list_recipes)) {
      auto client = make_client(state, nullptr);
      const auto& catalog = client.configs().recipes();
      if (state.json) {
        json::array list;
        for (const auto& r : catalog.all()) {
          list.push_back(json::object{{"name", r.name},
                                      {"description", r.description},
                                      {"source", r.bundled ? "bundled" : "user"},
                                      {"shadows_bundled", r.shadows_bundled},
                                      {"path", r.path.string()}});
        }
        print_json({{"recipes", std::move(list)}});
        return 0;
      }
      std::vector<std::vector<std::string>> rows{{"RECIPE", "SOURCE", "DESCRIPTION"}};
      for (const auto& r : catalog.all()) {
        rows.push_back({r.name, r.bundled ? "bundled" : (r.shadows_bundled ? "user (overrides bundled)" : "user"),
                        r.description});
      }
      std::cout << dvm_cli::table(rows);
      return 0;
    }

    if (ls->parsed()) {
      auto client = make_client(state, nullptr);
      auto vms = client.list();
      if (state.json) {
        // An array (easy to use with jq); each element carries the schema version.
        json::array list;
        for (const auto& s : vms) {
          json::object o = dvm_cli::to_json(s);
          o.emplace("schema", dvm_cli::json_schema);
          list.push_back(std::move(o));
        }
        std::cout << json::serialize(list) << '\n';
        return 0;
      }
      std::vector<std::vector<std::string>> rows{{"NAME", "STATUS", "SSH", "CPUS", "MEMORY", "DISK"}};
      for (const auto& s : vms) {
        rows.push_back({s.name, s.state, s.ssh_address.empty() ? "-" : s.ssh_address,
                        s.cpus ? std::to_string(s.cpus) : "-", dvm_cli::human_size(s.memory_bytes),
                        dvm_cli::human_size(s.disk_bytes)});
      }
      std::cout << dvm_cli::table(rows);
      return 0;
    }

    if (status->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::vm_status s = client.status(name);
      if (state.json) {
        print_json(dvm_cli::to_json(s));
        return 0;
      }
      std::vector<std::vector<std::string>> rows{
          {"name:", s.name},
          {"instance:", s.instance + (s.configured ? "" : "  (no config file)")},
          {"status:", s.state},
          {"ssh:", s.ssh_address.empty() ? "-" : s.ssh_address},
          {"resources:", (s.cpus ? std::to_string(s.cpus) : "-") + " CPUs, " + dvm_cli::human_size(s.memory_bytes) +
                             " memory, " + dvm_cli::human_size(s.disk_bytes) + " disk"},
      };
      if (!s.arch.empty()) rows.push_back({"arch:", s.arch + (s.vm_type.empty() ? "" : " (" + s.vm_type + ")")});
      if (!s.code_dir.empty()) rows.push_back({"code dir:", s.code_dir});
      if (!s.recipes.empty()) {
        std::string list;
        for (const auto& r : s.recipes) list += (list.empty() ? "" : " ") + r;
        rows.push_back({"recipes:", list});
      }
      if (s.ports.empty()) {
        rows.push_back({"ports:", "none forwarded"});
      } else {
        for (std::size_t i = 0; i < s.ports.size(); ++i) {
          const auto& p = s.ports[i];
          std::string line = p.host_ip + ":" + std::to_string(p.host_port) + " -> guest " +
                             std::to_string(p.guest_port) + "/" + p.proto;
          if (p.host_ip != "127.0.0.1") line += "  (reachable from other machines)";
          rows.push_back({i == 0 ? "ports:" : "", line});
        }
      }
      std::cout << dvm_cli::table(rows);
      return 0;
    }

    if (stop->parsed()) {
      if (all && !name.empty()) throw dvm::error(dvm::errc::usage, "stop --all does not take a VM name");
      if (!all && (inactive || force)) {
        throw dvm::error(dvm::errc::usage, "--inactive and --force go with `dvm stop --all`");
      }
      if (!all && name.empty()) throw dvm::error(dvm::errc::usage, "stop needs a VM name or --all");
      if (force && !inactive) throw dvm::error(dvm::errc::usage, "--force goes with --inactive");
      auto client = make_client(state, nullptr);
      if (!all) {
        client.stop(name);
        if (state.json) print_json({{"vm", dvm::normalize_vm_name(name)}, {"stopped", true}});
        return signal_exit(0);
      }
      dvm::stop_all_result r = client.stop_all({inactive, force});
      if (state.json) {
        json::array results;
        for (const auto& o : r.outcomes) {
          results.push_back(json::object{{"vm", o.vm}, {"action", o.action}, {"reason", o.reason}});
        }
        print_json({{"results", std::move(results)},
                    {"stopped", r.stopped},
                    {"skipped", r.skipped},
                    {"failed", r.failed}});
      } else {
        for (const auto& o : r.outcomes) {
          if (o.action == "skipped") std::cerr << "dvm: skipping active VM: " << o.vm << " (" << o.reason << ")\n";
          if (o.action == "failed") std::cerr << "dvm: stop failed: " << o.vm << ": " << o.reason << '\n';
        }
        std::cout << "dvm stop --all: " << r.stopped << " stopped, " << r.skipped << " skipped, "
                  << r.failed << " failed\n";
      }
      return signal_exit(r.failed == 0 ? 0 : 1);
    }

    if (rm->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::remove_result r = client.remove(name, {force});
      if (state.json) {
        json::array warnings;
        for (const auto& w : r.warnings) warnings.emplace_back(w);
        print_json({{"vm", r.vm}, {"removed", r.removed}, {"checked", r.checked}, {"warnings", std::move(warnings)}});
      } else {
        std::cout << "dvm: deleted dvm-" << r.vm << " (vms/" << r.vm << ".toml is kept)\n";
      }
      return signal_exit(0);
    }

    if (ssh_key->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::ssh_key_result r = client.ssh_key(name);
      if (state.json) {
        print_json({{"access_public_key", r.access_public_key},
                    {"signing_public_key", r.signing_public_key},
                    {"created", r.created}});
        return 0;
      }
      print_lines({"Git access key public key (use as deploy key or account authentication key):",
                   r.access_public_key, "",
                   "Git commit signing public key (add to your Git hosting account as an SSH signing key):",
                   r.signing_public_key});
      return 0;
    }

    if (gpg_key->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::gpg_key_result r = client.gpg_key(name);
      if (state.json) {
        print_json({{"fingerprint", r.fingerprint}, {"armored_public_key", r.armored_public_key}, {"created", r.created}});
        return 0;
      }
      std::cout << r.armored_public_key;
      if (!r.armored_public_key.ends_with("\n")) std::cout << '\n';
      std::cout << "fingerprint: " << r.fingerprint << '\n';
      return 0;
    }

    if (completion->parsed()) {
      std::cout << dvm_cli::completion_script(app, shell_name);
      return 0;
    }

    if (complete->parsed()) {
      // Config files only: completion must be instant and never call limactl.
      if (complete_what == "vms") {
        auto client = make_client(state, nullptr);
        for (const auto& n : client.configs().vm_names()) std::cout << n << '\n';
      } else if (complete_what == "templates") {
        for (const auto& t : dvm::init_template_names()) std::cout << t << '\n';
      } else {
        throw dvm::error(dvm::errc::usage, "__complete takes vms or templates");
      }
      return 0;
    }

    if (doctor->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::doctor_report r = client.doctor(name);
      if (state.json) {
        json::array checks;
        for (const auto& c : r.checks) {
          checks.push_back(json::object{{"vm", c.vm}, {"check", c.name}, {"status", c.status}, {"message", c.message}});
        }
        print_json({{"checks", std::move(checks)}, {"problems", r.problems()}, {"warnings", r.warnings()}});
      } else {
        for (const auto& c : r.checks) {
          const char* mark = c.status == "ok" ? "ok     " : c.status == "warning" ? "warning" : "PROBLEM";
          std::cout << mark << "  " << (c.vm.empty() ? "" : c.vm + ": ") << c.name << ": " << c.message << '\n';
        }
        std::cout << "dvm doctor: " << r.problems() << " problem" << (r.problems() == 1 ? "" : "s") << ", "
                  << r.warnings() << " warning" << (r.warnings() == 1 ? "" : "s") << '\n';
      }
      return r.problems() == 0 ? 0 : 1;
    }

    if (version->parsed()) {
      auto client = make_client(state, nullptr);
      dvm::version_info v = client.versions();
      if (state.json) {
        json::object o{{"dvm", v.dvm}};
        o["limactl"] = v.limactl.empty() ? json::value(nullptr) : json::value(v.limactl);
        if (!v.limactl_problem.empty()) o["limactl_problem"] = v.limactl_problem;
        print_json(std::move(o));
      } else {
        std::cout << "dvm " << v.dvm << '\n';
        std::cout << "limactl " << (v.limactl.empty() ? "unavailable: " + v.limactl_problem : v.limactl) << '\n';
      }
      return 0;
    }
  } catch (const dvm::error& e) {
    int code = report_error(e, state);
    return g_signal != 0 ? 128 + g_signal : code;
  } catch (const std::exception& e) {
    return report_error(dvm::error(dvm::errc::internal, std::string("unexpected failure: ") + e.what()), state);
  }
  return 0;
}
