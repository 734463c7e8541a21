// `dvm templates`: the bundled templates of `dvm init`
#include "../cli.hpp"
#include "../output.hpp"

#include <dvm/recipes.hpp>

#include <iostream>

namespace dvm_cli {

void add_templates(CLI::App& root, command_list& out) {
  auto* app = root.add_subcommand("templates", "List the bundled VM templates of `dvm init NAME --template T`");
  app->footer(examples({"dvm templates", "dvm init llm --template llama"}));
  out.push_back({app, [](const cli_state& state) {
    auto templates = dvm::init_templates();
    if (state.json) {
      boost::json::array list;
      for (const auto& t : templates) list.push_back(boost::json::object{{"name", t.name}, {"description", t.description}});
      print_json({{"templates", std::move(list)}});
      return 0;
    }
    std::vector<std::vector<std::string>> rows{{"NAME", "DESCRIPTION"}};
    for (const auto& t : templates) rows.push_back({t.name, t.description});
    std::cout << table(rows);
    return 0;
  }});
}

}  // namespace dvm_cli
