// `dvm templates`: the bundled templates of `dvm init`
#include "../cli.hpp"
#include "../output.hpp"

#include <dvm/recipes.hpp>

#include <iostream>

namespace dvm_cli {

void add_templates(CLI::App& root, command_list& registry) {
  auto* app = root.add_subcommand("templates", "List the bundled VM templates of `dvm init NAME --template T`");
  app->footer(examples({"dvm templates", "dvm init llm --template llama"}));
  registry.push_back({app, [](const cli_state& state) {
    auto templates = dvm::init_templates();
    output(state).result(boost::json::object{{"templates", to_json_list(templates)}}, [&](std::ostream& out, std::ostream&) {
      std::vector<std::vector<std::string>> rows{{"NAME", "DESCRIPTION"}};
      for (const auto& t : templates) rows.push_back({t.name, t.description});
      out << table(rows);
    });
    return 0;
  }});
}

}  // namespace dvm_cli
