// `dvm log NAME [UNIT] [journalctl args...]` (alias: logs)
#include "../cli.hpp"

#include <memory>

namespace dvm_cli {

void add_log(CLI::App& root, command_list& out) {
  auto name = std::make_shared<std::string>();
  auto* app = root.add_subcommand("log",
      "Show a systemd unit's journal in the VM: dvm log NAME [UNIT] [journalctl args...].\n"
      "The unit is inferred for VMs with one service recipe (cloudflared, llama, tailscale);\n"
      "default args: --no-pager -n 100");
  app->alias("logs");
  app->add_option("name", *name, "VM name; the words after it are [UNIT] [journalctl args...]")->required();
  app->footer(examples({"dvm log llm -f", "dvm log app ssh.service --since today"}));
  out.push_back({app, [name](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::log_options options;
    std::vector<std::string> words = state.passthrough;
    if (!words.empty() && !words.front().starts_with("-")) {
      options.unit = words.front();
      words.erase(words.begin());
    }
    options.args = words;
    return exit_code_after_signal(client.logs(*name, options));
  }});
}

}  // namespace dvm_cli
