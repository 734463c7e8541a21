// `dvm help [COMMAND]`, and what an unknown command name gets
#include "../cli.hpp"
#include "../suggest.hpp"

#include <iostream>
#include <memory>

namespace dvm_cli {

const CLI::App* find_command(const CLI::App& root, const std::string& word) {
  for (const CLI::App* sub : root.get_subcommands({})) {
    if (sub->get_group().empty()) continue;  // hidden helpers
    if (sub->get_name() == word) return sub;
    for (const auto& a : sub->get_aliases()) {
      if (a == word) return sub;
    }
  }
  return nullptr;
}

dvm::error unknown_command(const CLI::App& root, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : root.get_subcommands({})) {
    if (sub->get_group().empty()) continue;
    names.push_back(sub->get_name());
    for (const auto& a : sub->get_aliases()) names.push_back(a);
  }
  std::string hint = did_you_mean(closest(word, names));
  return dvm::error(dvm::errc::usage, "unknown command \"" + word + "\"" + (hint.empty() ? "" : "; " + hint) +
                                          " (see `dvm --help`)");
}

void add_help(CLI::App& root, command_list& registry) {
  auto topic = std::make_shared<std::string>();
  auto* app = root.add_subcommand("help", "Show help for dvm or one command");
  app->add_option("command", *topic, "Command name");
  app->footer(examples({"dvm help sync"}));
  registry.push_back({app, [topic, &root](const cli_state&) {
    if (topic->empty()) {
      std::cout << root.help();
      return 0;
    }
    const CLI::App* sub = find_command(root, *topic);
    if (sub == nullptr) throw unknown_command(root, *topic);
    std::cout << sub->help(root.get_name());  // "Usage: dvm rm ...", as `dvm rm --help` says
    return 0;
  }});
}

}  // namespace dvm_cli
