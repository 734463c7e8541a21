// `dvm log NAME [UNIT] [journalctl args...]` (alias: logs)
#include "../cli.hpp"

#include <dvm/error.hpp>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

namespace dvm_cli {

void add_log(CLI::App& root, command_list& registry) {
  struct options {
    std::string name;
    std::vector<std::string> words;
  };
  auto o = std::make_shared<options>();
  auto* app = root.add_subcommand("log",
      "Show a systemd unit's journal in the VM: dvm log NAME [UNIT] [journalctl args...].\n"
      "The unit is inferred for VMs with one service recipe (one whose header has a\n"
      "\"# Service:\" line; see `dvm recipes`); "
      "default args: --no-pager -n 100");
  app->alias("logs");
  app->add_option("name", o->name, "VM name; the words after it are [UNIT] [journalctl args...]")->required();
  add_passthrough(*app, o->words, "unit_and_args", "[UNIT] [journalctl args...], passed through untouched");
  app->footer(examples({"dvm log llm -f", "dvm log app ssh.service --since today"}));
  registry.push_back({app, [o](const cli_state& state) {
    auto client = make_client(state, nullptr);
    dvm::log_options options;
    std::vector<std::string> words = without_separator(o->words);
    if (!words.empty() && !words.front().starts_with("-")) {
      options.unit = words.front();
      words.erase(words.begin());
    }
    options.args = words;
    options.interactive = true;
    // Ctrl-C is how `dvm log NAME -f` ends, as it ends `journalctl -f`: exit 0, no error.
    try {
      dvm::logs_result r = client.logs(o->name, options);
      return interrupted_by(SIGINT) ? 0 : exit_code_after_signal(r.exit_code);
    } catch (const dvm::error&) {
      if (interrupted_by(SIGINT)) return 0;
      throw;
    }
  }});
}

}  // namespace dvm_cli
