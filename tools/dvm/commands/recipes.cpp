// `dvm recipes` (also `dvm ls --recipes`)
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>

namespace dvm_cli {

int print_recipes(const cli_state& state) {
  auto client = make_client(state, nullptr);
  const auto& catalog = client.configs().recipes();
  output(state).result(boost::json::object{{"recipes", to_json_list(catalog.all())}}, [&](std::ostream& out, std::ostream&) {
    // RUNS: when `dvm sync` runs it (libdvm/recipes/README.md, "When a recipe runs").
    std::vector<std::vector<std::string>> rows{{"RECIPE", "SOURCE", "RUNS", "DESCRIPTION"}};
    for (const auto& r : catalog.all()) {
      std::string runs = r.always || r.name == dvm::baseline_recipe ? "always" : "if changed";
      if (!r.every_sync.empty() && !r.always) runs += " (dvm_every_sync: always)";
      rows.push_back({r.name, r.bundled ? "bundled" : (r.shadows_bundled ? "user (overrides bundled)" : "user"),
                      runs, r.description});
    }
    out << table(rows);
  });
  return 0;
}

void add_recipes(CLI::App& root, command_list& registry) {
  auto* app = root.add_subcommand("recipes",
      "List the bundled and user recipes ($DVM_CONFIG/recipes/NAME.sh; a user recipe overrides a\n"
      "bundled one of the same name)");
  app->footer(examples({"dvm recipes"}));
  registry.push_back({app, print_recipes});
}

}  // namespace dvm_cli
