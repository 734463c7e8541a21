// `dvm start NAME` and `dvm start --all`: boot stopped VMs without running their recipes
#include "../cli.hpp"
#include "../output.hpp"
#include "../style.hpp"

#include <dvm/error.hpp>

#include <iostream>
#include <memory>

#include <unistd.h>

namespace dvm_cli {

namespace {

// Lima's progress lines go to the live view on a terminal; with --json only the document is on
// stdout (events as JSON lines on stderr with --verbose, as for the other commands).
struct client_with_view {
  progress_view view;
  dvm::client client;
  client_with_view(const cli_state& state, bool single_vm)
      : view(progress_style(state, single_vm), state.verbose),
        client(make_client(state, output(state).machine_readable() ? nullptr : &view)) {}
};

int start_all(const cli_state& state) {
  client_with_view c(state, false);
  boost::json::array results;
  std::size_t started = 0;
  std::size_t failed = 0;
  for (const auto& vm : c.client.list()) {
    if (vm.state != dvm::vm_state::stopped) continue;
    boost::json::object item{{"vm", vm.name}};
    try {
      item["started"] = c.client.start(vm.name).started;
      ++started;
      output(state).progress([&](std::ostream& out, std::ostream&) {
        out << vm.name << ": " << paint(STDOUT_FILENO, colour::green, "started") << '\n';
      });
    } catch (const dvm::error& e) {
      if (e.code() == dvm::errc::cancelled) throw;
      item["started"] = false;
      item["error"] = to_json(dvm::fields::outcome_error{std::string(dvm::errc_name(e.code())), e.what()});
      ++failed;
      output(state).progress([&](std::ostream&, std::ostream& err) {
        err << "dvm: " << paint(STDERR_FILENO, colour::red, "start failed:") << ' ' << vm.name << ": " << e.what()
            << '\n';
      });
    }
    results.push_back(std::move(item));
  }
  output(state).result(boost::json::object{{"results", std::move(results)}, {"started", started}, {"failed", failed}},
                       [&](std::ostream& out, std::ostream&) {
                         out << "dvm start --all: " << started << " started, " << failed << " failed\n";
                       });
  return exit_code_after_signal(failed == 0 ? 0 : 1);
}

}  // namespace

void add_start(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    bool all = false;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("start",
      "Start an existing, stopped VM without running its recipes (`dvm sync` creates and provisions)");
  auto* name = app->add_option("name", o->name, "VM name");
  app->add_flag("--all", o->all, "Start every stopped DVM VM")->excludes(name);
  app->footer(examples({"dvm start app", "dvm start --all"}));
  registry.push_back({app, [o](const cli_state& state) {
    if (o->all) return start_all(state);
    if (o->name.empty()) throw dvm::error(dvm::errc::usage, "start needs a VM name or --all");
    client_with_view c(state, true);
    dvm::start_result r = c.client.start(o->name);
    output(state).result(to_json(r), [&](std::ostream& out, std::ostream&) {
      if (r.started) out << r.vm << ": " << paint(STDOUT_FILENO, colour::green, "started") << '\n';
    });
    return exit_code_after_signal(0);
  }});
}

void add_restart(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("restart",
      "Stop (when running) and start an existing VM, without running its recipes");
  app->add_option("name", *name, "VM name")->required();
  app->footer(examples({"dvm restart app"}));
  registry.push_back({app, [name](const cli_state& state) {
    client_with_view c(state, true);
    dvm::start_result r = c.client.restart(*name);
    output(state).result(to_json(r), [&](std::ostream& out, std::ostream&) {
      out << r.vm << ": " << paint(STDOUT_FILENO, colour::green, "restarted") << '\n';
    });
    return exit_code_after_signal(0);
  }});
}

}  // namespace dvm_cli
