// `dvm stop NAME` and `dvm stop --all [--inactive [--force]]`
#include "../cli.hpp"
#include "../output.hpp"
#include "../style.hpp"

#include <dvm/error.hpp>

#include <iostream>
#include <memory>

#include <unistd.h>

namespace dvm_cli {

void add_stop(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    bool all = false;
    bool inactive = false;
    bool force = false;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("stop", "Stop one VM, or every DVM VM with --all");
  app->add_option("name", o->name, "VM name");
  auto* all = app->add_flag("--all", o->all, "Stop every running DVM VM");
  auto* inactive = app->add_flag("--inactive", o->inactive,
                                 "With --all: skip VMs in use (a shell, a tmux/zellij session, an active service unit)")
                       ->needs(all);
  app->add_flag("-f,--force", o->force, "With --inactive: also stop VMs whose activity check failed")->needs(inactive);
  app->footer(examples({"dvm stop app", "dvm stop --all --inactive"}));
  registry.push_back({app, [o](const cli_state& state) {
    if (o->all && !o->name.empty()) throw dvm::error(dvm::errc::usage, "stop --all does not take a VM name");
    if (!o->all && o->name.empty()) throw dvm::error(dvm::errc::usage, "stop needs a VM name or --all");
    auto client = make_client(state, nullptr);
    if (!o->all) {
      output(state).result(to_json(client.stop(o->name)));
      return exit_code_after_signal(0);
    }
    dvm::stop_all_result r = client.stop_all({o->inactive, o->force});
    output(state).result(
        to_json(r),
        [&](std::ostream& out, std::ostream& err) {
          for (const auto& x : r.outcomes) {
            if (x.action == dvm::stop_action::skipped) err << "dvm: skipping active VM: " << x.vm << " (" << x.reason << ")\n";
            if (x.action == dvm::stop_action::failed) {
              err << "dvm: " << paint(STDERR_FILENO, colour::red, "stop failed:") << ' ' << x.vm << ": " << x.reason
                  << '\n';
            }
          }
          out << "dvm stop --all: " << r.stopped << " stopped, " << r.skipped << " skipped, " << r.failed
              << " failed\n";
        });
    return exit_code_after_signal(r.failed == 0 ? 0 : 1);
  }});
}

}  // namespace dvm_cli
