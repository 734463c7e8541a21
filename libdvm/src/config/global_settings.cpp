// The tables of config.toml: [defaults] (the VM keys, phase 1), [recipe_sets] and [lima].
#include "config/loader_internal.hpp"

#include <dvm/error.hpp>

#include "config/suggest.hpp"

#include <algorithm>

namespace dvm::inline v0::config_detail {

namespace {

constexpr std::array<std::string_view, 3> global_keys = {"defaults", "recipe_sets", "lima"};
constexpr std::array<std::string_view, 1> lima_keys = {"pass_env"};

void parse_recipe_sets(const fs::path& f, const toml::node& node, const recipe_catalog& catalog,
                       global_config& out) {
  const auto* sets = node.as_table();
  origin at = origin_of(f, node, "recipe_sets");
  if (sets == nullptr) wrong_type(at, node, "a table");
  for (const auto& item : in_file_order(*sets)) detail::keep_going([&] {
    const auto& [set_key, set_node] = item;  // (clang 14 cannot capture a binding)
    std::string set_name(set_key->str());
    origin set_at{&f, set_key->source(), "recipe_sets." + set_name};
    if (!is_valid_recipe_name(set_name)) {
      fail(set_at, "\"" + set_name + "\" is not a valid set name: use [a-z0-9][a-z0-9-]*");
    }
    auto members = parse_name_list(f, *set_node, origin_of(f, *set_node, set_at.key_path));
    for (const auto& m : members) {
      if (m.text.starts_with('@')) fail(m.where, "recipe sets cannot contain other sets");
      if (catalog.find(m.text) == nullptr) {
        std::vector<std::string_view> names;
        for (const auto& r : catalog.all()) names.push_back(r.name);
        std::string rule = "unknown recipe \"" + m.text + "\"";
        if (auto hint = suggest(m.text, names)) rule += " (did you mean \"" + *hint + "\"?)";
        fail(m.where, rule);
      }
    }
    out.recipe_sets[set_name] = {std::move(members), set_at};
  });
}

void parse_lima(const fs::path& f, const toml::node& node, global_config& out) {
  const auto* lima = node.as_table();
  if (lima == nullptr) wrong_type(origin_of(f, node, "lima"), node, "a table");
  for (const auto& item : in_file_order(*lima)) detail::keep_going([&] {
    const auto& [lima_key, lima_node] = item;  // (clang 14 cannot capture a binding)
    if (lima_key->str() != "pass_env") unknown_key(f, *lima_key, "lima", lima_keys, "[lima]");
    out.lima_pass_env = parse_pass_env(f, *lima_node, origin_of(f, *lima_node, "lima.pass_env"));
  });
}

}  // namespace

void parse_global_table(const fs::path& f, const toml::table& t, const recipe_catalog& catalog,
                        global_config& out) {
  for (const auto& item : in_file_order(t)) detail::keep_going([&] {
    const auto& [key, node] = item;  // (clang 14 cannot capture a binding)
    if (key->str() == "defaults") {
      const auto* d = node->as_table();
      if (d == nullptr) wrong_type(origin_of(f, *node, "defaults"), *node, "a table");
      parse_vm_table(f, *d, "defaults.", "[defaults]", out.defaults);
    } else if (key->str() == "recipe_sets") {
      parse_recipe_sets(f, *node, catalog, out);
    } else if (key->str() == "lima") {
      parse_lima(f, *node, out);
    } else {
      bool is_vm_key = std::find(vm_keys.begin(), vm_keys.end(), key->str()) != vm_keys.end();
      unknown_key(f, *key, "", global_keys, "config.toml",
                  is_vm_key ? "per-VM settings go under [defaults]" : "");
    }
  });
}

}  // namespace dvm::v0::config_detail
