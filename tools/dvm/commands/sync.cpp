// `dvm sync NAME...` and `dvm sync --all [-j N]`
#include "../cli.hpp"
#include "../output.hpp"
#include "../style.hpp"

#include <dvm/error.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

#include <unistd.h>

namespace dvm_cli {

namespace {

struct options {
  std::vector<std::string> names;
  bool all = false;
  unsigned jobs = 4;
  bool restart = false;
  bool full = false;
  std::vector<std::string> recipes;
};

int sync_one(const cli_state& state, const options& o) {
  progress_view view(progress_style(state, true), state.verbose);
  auto client = make_client(state, &view);
  dvm::sync_options sync_options;
  sync_options.restart = o.restart;
  sync_options.full = o.full;
  sync_options.recipes = o.recipes;
  dvm::sync_result r = client.sync(o.names.front(), std::move(sync_options));
  output(state).result(boost::json::object{{"result", to_json(r)}}, [&](std::ostream& out, std::ostream&) {
    auto unchanged = static_cast<std::size_t>(
        std::count_if(r.recipes.begin(), r.recipes.end(), [](const dvm::recipe_timing& t) { return t.skipped; }));
    std::size_t ran = r.recipes.size() - unchanged;
    out << r.vm << ": synced in " << seconds_text(r.duration) << " (" << ran << " recipe" << (ran == 1 ? "" : "s")
        << " run, " << unchanged << " unchanged, " << r.limactl_calls << " limactl call"
        << (r.limactl_calls == 1 ? "" : "s") << ")\n";
  });
  return exit_code_after_signal(0);
}

int sync_several(const cli_state& state, const options& o) {
  progress_view view(progress_style(state, false), state.verbose);
  auto client = make_client(state, &view);
  dvm::sync_all_options sync_options;
  sync_options.jobs = o.jobs;
  sync_options.restart = o.restart;
  sync_options.full = o.full;
  sync_options.recipes = o.recipes;
  if (!o.all) {
    // Every name is checked before anything runs: a typo is a usage error, not a failed sync.
    for (const auto& n : o.names) {
      std::string vm = dvm::normalize_vm_name(n);
      if (!client.configs().has_vm(vm)) {
        throw dvm::error(dvm::errc::not_found, "no VM named " + vm + ": " + client.configs().vm_file(vm).string() +
                                                   " does not exist (create it with `dvm init " + vm + "`)");
      }
      if (std::find(sync_options.names.begin(), sync_options.names.end(), vm) == sync_options.names.end()) {
        sync_options.names.push_back(vm);
      }
    }
  }
  dvm::sync_all_result r = client.sync_all(std::move(sync_options));
  output(state).result(
      to_json(r),
      [&](std::ostream& out, std::ostream& err) {
        for (const auto& outcome : r.outcomes) {
          if (outcome.ok) {
            out << outcome.vm << ": " << paint(STDOUT_FILENO, colour::green, "ok") << " ("
                << seconds_text(outcome.result->duration) << ")\n";
          } else {
            err << "dvm: " << paint(STDERR_FILENO, colour::red, "sync failed:") << ' ' << outcome.vm << ": "
                << outcome.message << '\n';
          }
        }
        out << (o.all ? "dvm sync --all: " : "dvm sync: ") << r.ok << " ok, " << r.failed << " failed\n";
      });
  return exit_code_after_signal(r.failed == 0 ? 0 : 1);
}

}  // namespace

void add_sync(CLI::App& root, command_list& registry) {
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("sync",
      "Create the VM if missing, apply changed ports/cpus/memory/disk, start it, then run its\n"
      "recipes in the guest (one limactl call; secrets only over stdin). A recipe runs only when what\n"
      "it depends on changed since its last successful run (its text, the helpers, the settings and\n"
      "secrets it uses); the baseline and `# Always: true` recipes run every time. Several names, or --all,\n"
      "are synced side by side (-j at a time). A change that needs a restart is refused while the\n"
      "VM is in use (a shell, tmux/zellij, a service) unless --restart is given");
  auto* names = app->add_option("name", o->names, "VM names");
  app->add_flag("--all", o->all, "Sync every configured VM")->excludes(names);
  app->add_option("-j,--jobs", o->jobs, "With several VMs: how many are synced at the same time")
      ->capture_default_str()
      ->check(CLI::Range(1U, 64U));
  app->add_flag("--restart", o->restart, "Restart a VM in use when a change needs it");
  auto* full = app->add_flag("--full", o->full,
                             "Run every recipe, also those unchanged since their last successful run");
  app->add_option("--recipe", o->recipes,
                  "Run this recipe even if unchanged (repeatable); the others run only when changed")
      ->type_name("NAME")
      ->excludes(full)
      ->allow_extra_args(false);
  app->footer(examples({"dvm sync app", "dvm sync app --recipe node", "dvm sync app web --restart",
                        "dvm sync --all -j 2"}));
  registry.push_back({app, [o](const cli_state& state) {
    if (!o->all && o->names.empty()) throw dvm::error(dvm::errc::usage, "sync needs a VM name or --all");
    return o->all || o->names.size() > 1 ? sync_several(state, *o) : sync_one(state, *o);
  }});
}

}  // namespace dvm_cli
