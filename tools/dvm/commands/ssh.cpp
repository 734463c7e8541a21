// `dvm ssh NAME [--] CMD...` (alias: exec): exits with the guest command's status
#include "../cli.hpp"

#include <dvm/error.hpp>

#include <memory>
#include <string>
#include <vector>

namespace dvm_cli {

void add_ssh(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    std::vector<std::string> command;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("ssh",
      "Run one command in the VM's code directory: dvm ssh NAME [--] CMD [ARGS...].\n"
      "dvm exits with the command's own status");
  app->alias("exec");
  app->add_option("name", o->name, "VM name; every word after it is the guest command")->required();
  add_passthrough(*app, o->command, "command", "The guest command and its arguments, passed through untouched");
  app->footer(examples({"dvm ssh app -- ls -la", "dvm ssh app -- git status"}));
  registry.push_back({app, [o](const cli_state& state) {
    std::vector<std::string> command = without_separator(o->command);
    if (command.empty()) {
      throw dvm::error(dvm::errc::usage,
                       "ssh needs a command: dvm ssh NAME [--] CMD [ARGS...] (use `dvm sh NAME` for a shell)");
    }
    auto client = make_client(state, nullptr);
    dvm::exec_options options;
    options.interactive = true;
    return client.exec(o->name, command, options).exit_code;
  }});
}

}  // namespace dvm_cli
