// `dvm sh NAME` (alias: shell)
#include "../cli.hpp"

#include <memory>

namespace dvm_cli {

void add_sh(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("sh", "Open an interactive login shell in the VM's code directory (starts a stopped VM)");
  app->alias("shell");
  app->add_option("name", *name, "VM name")->required();
  app->footer(examples({"dvm sh app"}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    return exit_code_after_signal(client.shell(*name));
  }});
}

}  // namespace dvm_cli
