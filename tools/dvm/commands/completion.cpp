// `dvm completion bash|zsh|fish` and the hidden `dvm __complete vms|templates`
#include "../cli.hpp"
#include "../completion.hpp"

#include <dvm/error.hpp>
#include <dvm/recipes.hpp>

#include <iostream>
#include <memory>

namespace dvm_cli {

void add_completion(CLI::App& root, command_list& registry) {
  auto shell = std::make_shared<std::string>();
  auto* app = root.add_subcommand("completion", "Print a completion script: source <(dvm completion bash), or zsh / fish");
  app->add_option("shell", *shell, "bash, zsh or fish")->required();
  app->footer(examples({"source <(dvm completion bash)     # in ~/.bashrc", "dvm completion fish | source"}));
  registry.push_back({app, [shell, &root](const cli_state&) {
    std::cout << completion_script(root, *shell);
    return 0;
  }});

  auto what = std::make_shared<std::string>();
  auto* complete = root.add_subcommand("__complete", "Words for the completion scripts");
  complete->group("");  // hidden
  complete->add_option("what", *what, "vms or templates")->required();
  registry.push_back({complete, [what](const cli_state& state) {
    // Config files only: completion must be instant and never call limactl.
    if (*what == "vms") {
      auto client = make_client(state, nullptr);
      for (const auto& n : client.configs().vm_names()) std::cout << n << '\n';
    } else if (*what == "templates") {
      for (const auto& t : dvm::init_template_names()) std::cout << t << '\n';
    } else {
      throw dvm::error(dvm::errc::usage, "__complete takes vms or templates");
    }
    return 0;
  }});
}

}  // namespace dvm_cli
