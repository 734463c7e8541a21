// `dvm rm NAME --yes [--force]` (aliases: delete, remove)
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_rm(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    bool yes = false;
    bool force = false;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("rm",
      "Delete a VM's Lima instance. First checks every Git repository and loose file under the\n"
      "code directory for unsaved work and refuses if there is any, or if it cannot look everywhere\n"
      "(an unreadable directory, a symlinked .git or code directory, a check that did not finish).\n"
      "Without vms/NAME.toml it checks the code directory the instance was created with.\n"
      "Keeps vms/NAME.toml");
  app->alias("delete");
  app->alias("remove");
  app->add_option("name", o->name, "VM name")->required();
  app->add_flag("--yes", o->yes, "Required: confirms the deletion")->required();
  app->add_flag("-f,--force", o->force, "Skip the unsaved-work check");
  app->footer(examples({"dvm rm app --yes"}));
  registry.push_back({app, [o](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::remove_result r = client.remove(o->name, {o->force});
    output(state).result(
        to_json(r),
        [&](std::ostream& out, std::ostream&) { out << "dvm: deleted dvm-" << r.vm << " (vms/" << r.vm << ".toml is kept)\n"; });
    return exit_code_after_signal(0);
  }});
}

}  // namespace dvm_cli
