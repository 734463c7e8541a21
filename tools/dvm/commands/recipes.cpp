// `dvm recipes` (also `dvm ls --recipes`)
#include "../cli.hpp"
#include "../output.hpp"

#include <iostream>

namespace dvm_cli {

namespace {
// The facts of a recipe's header lines (# Requires:, # Service:, # Secret:).
boost::json::array requires_json(const dvm::recipe& r) {
  boost::json::array out;
  for (const auto& name : r.requires_recipes) out.emplace_back(name);
  return out;
}

boost::json::value service_json(const dvm::recipe& r) {
  if (!r.service) return nullptr;
  return boost::json::object{{"unit", r.service->unit}, {"env", r.service->env_key}};
}

boost::json::array secrets_json(const dvm::recipe& r) {
  boost::json::array out;
  for (const auto& s : r.secrets) {
    out.push_back(boost::json::object{{"name", s.name},
                                      {"alias", s.alias},
                                      {"prefix", s.prefix},
                                      {"charset", s.token_charset ? "token" : "any"}});
  }
  return out;
}
}  // namespace

int print_recipes(const cli_state& state) {
  auto client = make_client(state, nullptr);
  const auto& catalog = client.configs().recipes();
  boost::json::array list;
  for (const auto& r : catalog.all()) {
    list.push_back(boost::json::object{{"name", r.name},
                                       {"description", r.description},
                                       {"source", r.bundled ? "bundled" : "user"},
                                       {"shadows_bundled", r.shadows_bundled},
                                       {"path", r.path.string()},
                                       {"requires", requires_json(r)},
                                       {"service", service_json(r)},
                                       {"secrets", secrets_json(r)}});
  }
  output(state).result(boost::json::object{{"recipes", std::move(list)}}, [&](std::ostream& out, std::ostream&) {
    std::vector<std::vector<std::string>> rows{{"RECIPE", "SOURCE", "DESCRIPTION"}};
    for (const auto& r : catalog.all()) {
      rows.push_back({r.name, r.bundled ? "bundled" : (r.shadows_bundled ? "user (overrides bundled)" : "user"),
                      r.description});
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
