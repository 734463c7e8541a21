// The dvm commands: call libdvm, present the result. Argument parsing is in main.cpp.
#include "commands.hpp"

#include <dvm/error.hpp>

#include "output.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include <unistd.h>

extern char** environ;

namespace dvm_cli {

namespace json = boost::json;

namespace {

// Ctrl-C / SIGTERM: the running limactl call is stopped through the cancel token, and dvm exits
// with 128 + the signal once the library has unwound (locks released, guest cleaned up).
dvm::cancel_token g_cancel;
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  g_signal = sig;
  g_cancel.request();
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return so the cancel is seen promptly
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

int exit_code_after_signal(int code) { return g_signal != 0 ? 128 + g_signal : code; }

namespace {

progress_view::style progress_style(const cli_state& state, bool single_vm) {
  if (state.json) return progress_view::style::json;
  if (single_vm && ::isatty(STDERR_FILENO) != 0 && std::getenv("TERM") != nullptr &&
      std::string(std::getenv("TERM")) != "dumb") {
    return progress_view::style::live;
  }
  return progress_view::style::plain;
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

dvm::client make_client(const cli_state& state, progress_view* view) {
  dvm::client_options options;
  options.cancel = &g_cancel;
  if (view == nullptr) {
    // Commands without a progress display of their own: warnings and VM state changes on
    // stderr; with --verbose every limactl call too (as JSON lines on stderr with --json, so
    // stdout keeps its one document).
    static progress_view side(
        state.json ? progress_view::style::json : progress_view::style::plain,
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

// `dvm init NAME [--template T] [--edit]`
int run_init(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::init_result r = client.init_config(a.name, a.template_name);
  if (state.json) {
    print_json({{"path", r.path.string()}, {"created", r.created}});
  } else if (r.created) {
    std::cout << "dvm: created " << r.path.string() << '\n';
  } else {
    std::cerr << "dvm: " << r.path.string() << " already exists; not overwritten\n";
  }
  if (a.edit) {
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

// `dvm plan NAME`: rendered as a readable report, or one JSON document
int run_plan(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::plan_result p = client.plan(a.name);
  if (state.json) {
    print_json(to_json(p));
    return 0;
  }
  for (const auto& w : p.warnings) std::cerr << "dvm: warning: " << w << '\n';
  std::cout << "# dvm plan for " << p.vm << " (nothing is changed)\n\n";
  std::cout << "## " << p.instance << "/lima.yaml\n\n" << p.lima_yaml << '\n';
  std::cout << "## limactl calls of `dvm sync " << p.vm << "` on a machine where " << p.instance
            << " does not exist yet\n\n";
  for (const auto& c : p.calls) {
    std::string line;
    for (const auto& word : c.argv) line += (line.empty() ? "" : " ") + word;
    std::cout << "  " << line;
    if (c.stdin_text == p.lima_yaml && !c.stdin_text.empty()) std::cout << "    < lima.yaml above";
    if (c.stdin_text == p.guest_program && !c.stdin_text.empty()) std::cout << "    < guest program below";
    std::cout << '\n';
  }
  std::cout << "\n(An existing VM: `limactl list --json` and the `shell` call; `stop`, `edit --set` and `start`\n"
               "only when cpus, memory or disk differ, or the instance's effective port rules, mounts or\n"
               "ssh.forwardAgent differ from dvm's. The version check is cached.)\n\n";
  std::cout << "## guest program (stdin of the shell call; secrets: ";
  if (p.secrets.empty()) std::cout << "none";
  for (std::size_t i = 0; i < p.secrets.size(); ++i) std::cout << (i ? ", " : "") << p.secrets[i];
  std::cout << ")\n\n" << p.guest_program;
  return 0;
}

// `dvm sync NAME` and `dvm sync --all [-j N]`
int run_sync(const cli_state& state, arguments& a) {
  if (a.all == !a.name.empty()) {
    throw dvm::error(dvm::errc::usage, a.all ? "sync --all takes no VM name" : "sync needs a VM name or --all");
  }
  progress_view view(progress_style(state, !a.all), state.verbose);
  auto client = make_client(state, &view);
  if (!a.all) {
    dvm::sync_result r = client.sync(a.name);
    if (state.json) {
      print_json({{"result", to_json(r)}});
    } else {
      std::cout << r.vm << ": synced in " << seconds_text(r.duration) << " ("
                << r.recipes.size() << " recipe" << (r.recipes.size() == 1 ? "" : "s") << ", "
                << r.limactl_calls << " limactl call" << (r.limactl_calls == 1 ? "" : "s") << ")\n";
    }
    return exit_code_after_signal(0);
  }
  dvm::sync_all_options options;
  options.jobs = a.jobs;
  dvm::sync_all_result r = client.sync_all(std::move(options));
  if (state.json) {
    json::array results;
    for (const auto& o : r.outcomes) {
      json::object item{{"vm", o.vm}, {"ok", o.ok}};
      if (o.result) item["result"] = to_json(*o.result);
      if (!o.ok) item["error"] = json::object{{"code", o.error_code}, {"message", o.message}};
      results.push_back(std::move(item));
    }
    print_json({{"results", std::move(results)}, {"ok", r.ok}, {"failed", r.failed}});
  } else {
    for (const auto& o : r.outcomes) {
      if (o.ok) {
        std::cout << o.vm << ": ok (" << seconds_text(o.result->duration) << ")\n";
      } else {
        std::cerr << "dvm: sync failed: " << o.vm << ": " << o.message << '\n';
      }
    }
    std::cout << "dvm sync --all: " << r.ok << " ok, " << r.failed << " failed\n";
  }
  return exit_code_after_signal(r.failed == 0 ? 0 : 1);
}

// `dvm sh NAME`
int run_sh(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  return exit_code_after_signal(client.shell(a.name));
}

// `dvm ssh NAME [--] CMD...`: exits with the guest command's status
int run_ssh(const cli_state& state, arguments& a) {
  if (a.passthrough.empty()) throw dvm::error(dvm::errc::usage, "ssh needs a command: dvm ssh NAME [--] CMD [ARGS...] (use `dvm sh NAME` for a shell)");
  auto client = make_client(state, nullptr);
  dvm::exec_options options;
  options.interactive = true;
  return client.exec(a.name, a.passthrough, options).exit_code;
}

// `dvm cp [-r] [-v] [--backend B] SRC... DST`
int run_cp(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::copy_options options{a.recursive, a.copy_verbose || state.verbose, a.backend};
  std::string target = a.operands.back();
  a.operands.pop_back();
  return exit_code_after_signal(client.copy(a.operands, target, options));
}

// `dvm log NAME [UNIT] [journalctl args...]`
int run_log(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::log_options options;
  if (!a.passthrough.empty() && !a.passthrough.front().starts_with("-")) {
    options.unit = a.passthrough.front();
    a.passthrough.erase(a.passthrough.begin());
  }
  options.args = a.passthrough;
  return exit_code_after_signal(client.logs(a.name, options));
}

// `dvm recipes` (also `dvm ls --recipes`)
int run_recipes(const cli_state& state, arguments& /*unused*/) {
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
  std::cout << table(rows);
  return 0;
}

// `dvm ls`: a table, or with --json an array of VM objects
int run_ls(const cli_state& state, arguments& /*unused*/) {
  auto client = make_client(state, nullptr);
  auto vms = client.list();
  if (state.json) {
    // An array (easy to use with jq); each element carries the schema version.
    json::array list;
    for (const auto& s : vms) {
      json::object o = to_json(s);
      o.emplace("schema", json_schema);
      list.push_back(std::move(o));
    }
    std::cout << json::serialize(list) << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "STATUS", "SSH", "CPUS", "MEMORY", "DISK"}};
  for (const auto& s : vms) {
    rows.push_back({s.name, s.state, s.ssh_address.empty() ? "-" : s.ssh_address,
                    s.cpus ? std::to_string(s.cpus) : "-", human_size(s.memory_bytes),
                    human_size(s.disk_bytes)});
  }
  std::cout << table(rows);
  return 0;
}

// `dvm status NAME`
int run_status(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::vm_status s = client.status(a.name);
  if (state.json) {
    print_json(to_json(s));
    return 0;
  }
  std::vector<std::vector<std::string>> rows{
      {"name:", s.name},
      {"instance:", s.instance + (s.configured ? "" : "  (no config file)")},
      {"status:", s.state},
      {"ssh:", s.ssh_address.empty() ? "-" : s.ssh_address},
      {"resources:", (s.cpus ? std::to_string(s.cpus) : "-") + " CPUs, " + human_size(s.memory_bytes) +
                         " memory, " + human_size(s.disk_bytes) + " disk"},
  };
  if (!s.arch.empty()) rows.push_back({"arch:", s.arch + (s.vm_type.empty() ? "" : " (" + s.vm_type + ")")});
  if (!s.code_dir.empty()) rows.push_back({"code dir:", s.code_dir});
  if (!s.recipes.empty()) {
    std::string list;
    for (const auto& r : s.recipes) list += (list.empty() ? "" : " ") + r;
    rows.push_back({"recipes:", list});
  }
  for (const auto& r : s.recreate_to_apply) rows.push_back({"recreate to apply:", r});
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
  std::cout << table(rows);
  return 0;
}

// `dvm stop NAME` and `dvm stop --all [--inactive [--force]]`
int run_stop(const cli_state& state, arguments& a) {
  if (a.all && !a.name.empty()) throw dvm::error(dvm::errc::usage, "stop --all does not take a VM name");
  if (!a.all && (a.inactive || a.force)) {
    throw dvm::error(dvm::errc::usage, "--inactive and --force go with `dvm stop --all`");
  }
  if (!a.all && a.name.empty()) throw dvm::error(dvm::errc::usage, "stop needs a VM name or --all");
  if (a.force && !a.inactive) throw dvm::error(dvm::errc::usage, "--force goes with --inactive");
  auto client = make_client(state, nullptr);
  if (!a.all) {
    client.stop(a.name);
    if (state.json) print_json({{"vm", dvm::normalize_vm_name(a.name)}, {"stopped", true}});
    return exit_code_after_signal(0);
  }
  dvm::stop_all_result r = client.stop_all({a.inactive, a.force});
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
  return exit_code_after_signal(r.failed == 0 ? 0 : 1);
}

// `dvm rm NAME --yes [--force]`
int run_rm(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::remove_result r = client.remove(a.name, {a.force});
  if (state.json) {
    json::array warnings;
    for (const auto& w : r.warnings) warnings.emplace_back(w);
    print_json({{"vm", r.vm}, {"removed", r.removed}, {"checked", r.checked}, {"warnings", std::move(warnings)}});
  } else {
    std::cout << "dvm: deleted dvm-" << r.vm << " (vms/" << r.vm << ".toml is kept)\n";
  }
  return exit_code_after_signal(0);
}

// `dvm ssh-key NAME`
int run_ssh_key(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::ssh_key_result r = client.ssh_key(a.name);
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

// `dvm gpg-key NAME`
int run_gpg_key(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::gpg_key_result r = client.gpg_key(a.name);
  if (state.json) {
    print_json({{"fingerprint", r.fingerprint}, {"armored_public_key", r.armored_public_key}, {"created", r.created}});
    return 0;
  }
  std::cout << r.armored_public_key;
  if (!r.armored_public_key.ends_with("\n")) std::cout << '\n';
  std::cout << "fingerprint: " << r.fingerprint << '\n';
  return 0;
}

// `dvm doctor [NAME]`: exit 1 when a problem is found
int run_doctor(const cli_state& state, arguments& a) {
  auto client = make_client(state, nullptr);
  dvm::doctor_report r = client.doctor(a.name);
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

// `dvm version`
int run_version(const cli_state& state, arguments& /*unused*/) {
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

}  // namespace dvm_cli
