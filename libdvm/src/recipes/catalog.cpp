// The recipe catalog: bundled recipes plus $DVM_CONFIG/recipes/*.sh.
#include <dvm/error.hpp>
#include <dvm/recipes.hpp>

#include "embedded.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace dvm {

namespace {
constexpr std::string_view description_prefix = "# Description:";
constexpr std::string_view helpers_name = "_helpers";

// The text after "# Description:" on the first line; nullopt when the line is missing.
std::optional<std::string> description_of(std::string_view text) {
  std::string_view first = text.substr(0, text.find('\n'));
  if (!first.starts_with(description_prefix)) return std::nullopt;
  first.remove_prefix(description_prefix.size());
  while (!first.empty() && (first.front() == ' ' || first.front() == '\t')) first.remove_prefix(1);
  while (!first.empty() && (first.back() == ' ' || first.back() == '\r')) first.remove_suffix(1);
  if (first.empty()) return std::nullopt;
  return std::string(first);
}
}  // namespace

bool is_valid_recipe_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return ok(c) || c == '-'; });
}

recipe_catalog::recipe_catalog() {
  for (const auto& file : detail::bundled_recipes()) {
    if (file.name == helpers_name) {
      helpers_ = std::string(file.data);
      continue;
    }
    recipes_.push_back(recipe{std::string(file.name), description_of(file.data).value_or(""),
                              std::string(file.data), true, false, {}});
  }
  std::sort(recipes_.begin(), recipes_.end(),
            [](const recipe& a, const recipe& b) { return a.name < b.name; });
}

recipe_catalog::recipe_catalog(const std::filesystem::path& user_dir) : recipe_catalog() {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(user_dir, ec)) {
    if (entry.path().extension() == ".sh") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::string name = path.stem().string();
    if (!is_valid_recipe_name(name)) {
      throw config_error(path, 0, 0, "",
                         "\"" + name + "\" is not a valid recipe name: use [a-z0-9][a-z0-9-]* for user recipe files");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(path, 0, 0, "", "cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    auto description = description_of(text.str());
    if (!description) {
      throw config_error(path, 1, 1, "", "the first line of a recipe must be \"# Description: <text>\"");
    }
    recipe user{name, *description, text.str(), false, false, path};
    auto it = std::find_if(recipes_.begin(), recipes_.end(),
                           [&](const recipe& r) { return r.name == name; });
    if (it != recipes_.end()) {
      user.shadows_bundled = true;
      *it = std::move(user);
    } else {
      recipes_.push_back(std::move(user));
    }
  }
  std::sort(recipes_.begin(), recipes_.end(),
            [](const recipe& a, const recipe& b) { return a.name < b.name; });
}

const recipe* recipe_catalog::find(std::string_view name) const noexcept {
  auto it = std::lower_bound(recipes_.begin(), recipes_.end(), name,
                             [](const recipe& r, std::string_view n) { return r.name < n; });
  return it != recipes_.end() && it->name == name ? &*it : nullptr;
}

std::vector<init_template> init_templates() {
  std::vector<init_template> out;
  for (const auto& t : detail::init_templates()) {
    // The first line says what the template is for: `# VM "@NAME@" for `dvm` (template: x): what.`
    std::string_view text = t.data;
    std::string_view first = text.substr(0, text.find('\n'));
    std::string marker = "(template: " + std::string(t.name) + "): ";
    std::string description;
    if (auto at = first.find(marker); at != std::string_view::npos) {
      description = std::string(first.substr(at + marker.size()));
      if (description.ends_with(".")) description.pop_back();
      // `dvm init` fills the name in; listed without one, the placeholder says what goes there.
      for (std::size_t p; (p = description.find("\"@NAME@\"")) != std::string::npos;) {
        description.replace(p, 8, "the VM's name");
      }
    }
    out.push_back({std::string(t.name), std::move(description)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> init_template_names() {
  std::vector<std::string> names;
  for (const auto& t : detail::init_templates()) names.emplace_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace dvm
