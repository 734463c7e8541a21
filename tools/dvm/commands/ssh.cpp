// `dvm ssh NAME [--] CMD...` (alias: exec): exits with the guest command's status
#include "../cli.hpp"

#include <dvm/error.hpp>

#include <memory>

namespace dvm_cli {

void add_ssh(CLI::App& root, command_list& out) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("ssh",
      "Run one command in the VM's code directory: dvm ssh NAME [--] CMD [ARGS...].\n"
      "dvm exits with the command's own status");
  app->alias("exec");
  app->add_option("name", *name, "VM name; every word after it is the guest command")->required();
  app->footer(examples({"dvm ssh app -- ls -la", "dvm ssh app -- git status"}));
  out.push_back({app, [name](const cli_state& state) {
    if (state.passthrough.empty()) {
      throw dvm::error(dvm::errc::usage,
                       "ssh needs a command: dvm ssh NAME [--] CMD [ARGS...] (use `dvm sh NAME` for a shell)");
    }
    auto client = make_client(state, nullptr);
    dvm::exec_options options;
    options.interactive = true;
    return client.exec(*name, state.passthrough, options).exit_code;
  }});
}

}  // namespace dvm_cli
