// `dvm ssh-config NAME`: an OpenSSH `Host dvm-NAME` block for ssh and remote-SSH editors
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_ssh_config(CLI::App& root, command_list& registry) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("ssh-config",
      "Print an OpenSSH config block `Host dvm-NAME` for a running VM, for `ssh` and editors with\n"
      "remote-SSH support (VS Code, Zed, JetBrains). The session starts in the guest home, not the\n"
      "code directory. Lima picks a new SSH port at every start: write the block again after a restart");
  app->add_option("name", *name, "VM name (the VM must be running)")->required();
  app->footer(
      examples({"dvm ssh-config app > ~/.ssh/dvm-app.config",
                "# once, at the top of ~/.ssh/config (before any Host line):",
                "#   Include ~/.ssh/dvm-*.config",
                "ssh dvm-app",
                "dvm ssh-config app >> ~/.ssh/config   # simpler, but not refreshed after a restart"}));
  registry.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    std::string text = client.ssh_config(*name);
    std::string vm = dvm::normalize_vm_name(*name);
    output(state).result(boost::json::object{{"vm", vm}, {"host", std::string(dvm::instance_prefix) + vm}, {"ssh_config", text}},
                         [&](std::ostream& out, std::ostream&) { out << text; });
    return 0;
  }});
}

}  // namespace dvm_cli
