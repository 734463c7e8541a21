// `dvm recipes` (also `dvm ls --recipes`)
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>

namespace dvm_cli {

int print_recipes(const cli_state& state) {
  auto client = make_client(state, nullptr);
  const auto& catalog = client.configs().recipes();
  if (state.json) {
    boost::json::array list;
    for (const auto& r : catalog.all()) {
      list.push_back(boost::json::object{{"name", r.name},
                                         {"description", r.description},
                                         {"source", r.bundled ? "bundled" : "user"},
                                         {"shadows_bundled", r.shadows_bundled},
                                         {"path", r.path.string()}});
    }
    print_json({{"recipes", std::move(list)}});
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"RECIPE", "SOURCE", "DESCRIPTION"}};
  for (const auto& r : catalog.all()) {
    rows.push_back({r.name, r.bundled ? "bundled" : (r.shadows_bundled ? "user (overrides bundled)" : "user"),
                    r.description});
  }
  std::cout << table(rows);
  return 0;
}

void add_recipes(CLI::App& root, command_list& out) {
  auto* app = root.add_subcommand("recipes",
      "List the bundled and user recipes ($DVM_CONFIG/recipes/NAME.sh; a user recipe overrides a\n"
      "bundled one of the same name)");
  app->footer(examples({"dvm recipes"}));
  out.push_back({app, print_recipes});
}

}  // namespace dvm_cli
