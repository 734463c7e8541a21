// The recipe catalog: bundled recipes plus $DVM_CONFIG/recipes/*.sh.
#include <dvm/config.hpp>
#include <dvm/error.hpp>
#include <dvm/recipes.hpp>

#include "config/problems.hpp"
#include "embedded.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <span>
#include <fstream>
#include <sstream>

namespace dvm::inline v0 {

namespace {
constexpr std::string_view description_prefix = "# Description:";
constexpr std::string_view helpers_name = "_helpers";
constexpr std::string_view header_keys = "Description, Requires, Service, Secret, Always";

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

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// One of the recipe's functions that dvm runs on its own (`dvm_check`, `dvm_every_sync`): from a
// line that starts with "NAME()" up to the first line that is "}" alone; "" when there is none.
// Throws config_error naming `file` and the line when the function is not closed that way.
std::string function_of(std::string_view text, std::string_view function, std::string_view runner,
                        const std::filesystem::path& file) {
  int line_no = 0;
  int start_line = 0;
  std::string out;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (start_line == 0) {
      std::string_view rest = line;
      if (!rest.starts_with(function)) continue;
      rest.remove_prefix(function.size());
      while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
      if (!rest.starts_with("()")) continue;
      start_line = line_no;
    }
    out.append(line).append("\n");
    std::string_view trimmed = line;
    while (!trimmed.empty() && (is_blank(trimmed.back()) || trimmed.back() == '\r')) trimmed.remove_suffix(1);
    if (trimmed == "}") return out;
  }
  if (start_line == 0) return {};
  throw config_error(file, start_line, 1, "",
                     "the " + std::string(function) + " function must end with a line that is \"}\" alone (" +
                         std::string(runner) + " runs it on its own)");
}

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    if (text.empty()) return out;
    std::size_t end = 0;
    while (end < text.size() && !is_blank(text[end])) ++end;
    out.push_back(text.substr(0, end));
    text.remove_prefix(end);
  }
}


// As the recipes' dvm_validate_service: NAME.service of [A-Za-z0-9_.@-], no "..", no leading . or -.
bool is_service_unit(std::string_view unit) {
  constexpr std::string_view suffix = ".service";
  if (unit.size() <= suffix.size() || !unit.ends_with(suffix)) return false;
  if (unit.front() == '.' || unit.front() == '-' || unit.find("..") != std::string_view::npos) return false;
  return std::all_of(unit.begin(), unit.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' || c == '-';
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A recipe's header facts and the line each Requires name came from.
struct parsed_header {
  std::vector<std::string> requires_recipes;
  std::vector<int> requires_lines;
  std::optional<recipe_service> service;
  std::vector<recipe_secret> secrets;
  std::optional<bool> always;
  bool any = false;  // some Requires/Service/Secret/Always line was there
};

// Splits "key=value" options; each key may appear once and must be one of `allowed`.
std::vector<std::pair<std::string_view, std::string_view>> options_of(
    std::span<const std::string_view> words, std::initializer_list<std::string_view> allowed,
    std::string_view line_kind, const std::function<void(const std::string&)>& fail) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a) + "=";
  for (auto w : words) {
    std::size_t eq = w.find('=');
    std::string_view key = w.substr(0, eq);
    if (eq == std::string_view::npos || std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      fail("unknown option \"" + std::string(w) + "\" on a \"# " + std::string(line_kind) +
           ":\" line (options: " + list + ")");
    }
    if (std::any_of(out.begin(), out.end(), [&](const auto& o) { return o.first == key; })) {
      fail("option " + std::string(key) + "= is given twice");
    }
    out.emplace_back(key, w.substr(eq + 1));
  }
  return out;
}

// "# Requires: NAME...": recipes run before this one.
template <class Fail>
void read_requires(const std::vector<std::string_view>& words, std::string_view name, int line_no,
                   parsed_header& out, const Fail& fail) {
  for (auto w : words) {
    if (!is_valid_recipe_name(w)) fail("\"" + std::string(w) + "\" is not a recipe name ([a-z0-9][a-z0-9-]*)");
    if (w == name) fail("a recipe cannot require itself");
    if (std::find(out.requires_recipes.begin(), out.requires_recipes.end(), w) != out.requires_recipes.end()) {
      fail("\"" + std::string(w) + "\" is required twice");
    }
    out.requires_recipes.emplace_back(w);
    out.requires_lines.push_back(line_no);
  }
}

// "# Service: UNIT [env=KEY]": the unit the recipe runs, renamed by the VM's [env] KEY.
template <class Fail>
void read_service(const std::vector<std::string_view>& words, parsed_header& out, const Fail& fail) {
  if (out.service) fail("a recipe has at most one \"# Service:\" line");
  if (!is_service_unit(words[0])) {
    fail("\"" + std::string(words[0]) +
         "\" is not a systemd service name: NAME.service with A-Z a-z 0-9 _ . @ - (\"# Service: UNIT [env=KEY]\")");
  }
  recipe_service service{std::string(words[0]), ""};
  for (auto [k, v] : options_of(std::span(words).subspan(1), {"env"}, "Service", fail)) {
    if (!is_valid_env_key(v)) fail("env=" + std::string(v) + " is not an [env] key: use [A-Z][A-Z0-9_]*");
    service.env_key = std::string(v);
  }
  out.service = std::move(service);
}

// "# Secret: NAME [alias=VAR] [prefix=TEXT] [charset=token]": a secret sync stages for it.
template <class Fail>
void read_secret(const std::vector<std::string_view>& words, parsed_header& out, const Fail& fail) {
  if (!is_valid_secret_name(words[0])) {
    fail("\"" + std::string(words[0]) +
         "\" is not a valid secret name: use [A-Z_][A-Z0-9_]* (\"# Secret: NAME [alias=NAME] [prefix=TEXT] "
         "[charset=token]\")");
  }
  recipe_secret secret{std::string(words[0]), "", "", false};
  if (std::any_of(out.secrets.begin(), out.secrets.end(), [&](const auto& s) { return s.name == secret.name; })) {
    fail("secret " + secret.name + " is declared twice");
  }
  for (auto [k, v] : options_of(std::span(words).subspan(1), {"alias", "prefix", "charset"}, "Secret", fail)) {
    if (k == "alias") {
      if (!is_valid_secret_name(v) || v == secret.name) {
        fail("alias=" + std::string(v) + " is not another variable name: use [A-Z_][A-Z0-9_]*");
      }
      secret.alias = std::string(v);
    } else if (k == "prefix") {
      if (v.empty() || !std::all_of(v.begin(), v.end(), recipe_secret::token_char)) {
        fail("prefix= must be non-empty and use only A-Z a-z 0-9 . _ = -");
      }
      secret.prefix = std::string(v);
    } else {
      if (v != "token") fail("unknown charset=" + std::string(v) + " (the one charset is \"token\": A-Z a-z 0-9 . _ = -)");
      secret.token_charset = true;
    }
  }
  out.secrets.push_back(std::move(secret));
}

// The facts in a recipe's header: the leading run of lines that start with `#`. A fact line is
// `# Key: value` with Key one of Requires, Service, Secret, Always; other comment lines are prose.
// Throws config_error naming `file` and the line.
parsed_header parse_header(std::string_view name, std::string_view text, const std::filesystem::path& file) {
  parsed_header out;
  int line_no = 0;
  while (!text.empty() && text.front() == '#') {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line_no == 1) continue;  // the Description line
    auto fail = [&](const std::string& rule) { throw config_error(file, line_no, 1, "", rule); };
    // "# Word:" with Word a run of letters, right after "#" and blanks.
    std::string_view rest = line.substr(1);
    while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
    std::size_t word_end = 0;
    while (word_end < rest.size() && std::isalpha(static_cast<unsigned char>(rest[word_end]))) ++word_end;
    std::string_view key = rest.substr(0, word_end);
    std::string_view after = rest.substr(word_end);
    std::string spelled = lower(key);
    bool known_word = spelled == "description" || spelled == "requires" || spelled == "require" ||
                      spelled == "service" || spelled == "services" || spelled == "secret" ||
                      spelled == "secrets" || spelled == "always";
    if (!known_word) continue;  // prose, or another tool's "# Release: ..." note
    if (!after.starts_with(':')) {
      // "# Service  dvm-x.service" or "# Secret name": prose unless it looks like a key.
      std::string_view t = after;
      while (!t.empty() && is_blank(t.front())) t.remove_prefix(1);
      if (!t.starts_with(':')) continue;
      fail("write \"# " + std::string(key) + ":\" without blanks before the colon");
    }
    if (!line.starts_with("# ") || (key != "Requires" && key != "Service" && key != "Secret" && key != "Always")) {
      if (key == "Description") fail("\"# Description:\" belongs on the first line only");
      fail("\"" + std::string(line.substr(0, line.find(':') + 1)) +
           "\" is not a header key: write \"# Requires:\", \"# Service:\", \"# Secret:\" or \"# Always:\" (keys: " +
           std::string(header_keys) + ")");
    }
    std::vector<std::string_view> words = words_of(after.substr(1));
    if (words.empty()) fail("\"# " + std::string(key) + ":\" needs a value");
    out.any = true;
    if (key == "Requires") {
      read_requires(words, name, line_no, out, fail);
    } else if (key == "Service") {
      read_service(words, out, fail);
    } else if (key == "Always") {
      // "# Always: true": the recipe runs at every sync, even when its fingerprint is unchanged.
      if (out.always) fail("a recipe has at most one \"# Always:\" line");
      if (words.size() != 1 || (words[0] != "true" && words[0] != "false")) {
        fail("\"# Always:\" takes true or false");
      }
      out.always = words[0] == "true";
    } else {
      read_secret(words, out, fail);
    }
  }
  return out;
}

void apply(recipe& r, parsed_header&& h) {
  r.requires_recipes = std::move(h.requires_recipes);
  r.service = std::move(h.service);
  r.secrets = std::move(h.secrets);
  r.always = h.always.value_or(false);
}

void read_functions(recipe& r, const std::filesystem::path& file) {
  r.check = function_of(r.text, "dvm_check", "dvm doctor", file);
  r.every_sync = function_of(r.text, "dvm_every_sync", "dvm sync", file);
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
    recipe r{std::string(file.name), description_of(file.data).value_or(""), std::string(file.data), true, false,
             {}, {}, {}, {}, false, {}, {}};
    // Bundled headers are checked by a unit test; the path names the source file.
    apply(r, parse_header(r.name, file.data, std::filesystem::path("libdvm/recipes") / (r.name + ".sh")));
    read_functions(r, std::filesystem::path("libdvm/recipes") / (r.name + ".sh"));
    recipes_.push_back(std::move(r));
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
  struct required {
    std::filesystem::path file;
    std::vector<int> lines;
    std::vector<std::string> names;
  };
  std::vector<required> user_requires;
  for (const auto& path : files) detail::keep_going([&] {  // dvm::validate: every bad recipe
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
    parsed_header header = parse_header(name, text.str(), path);
    recipe user{name, *description, text.str(), false, false, path, {}, {}, {}, false, {}, {}};
    read_functions(user, path);
    auto it = std::find_if(recipes_.begin(), recipes_.end(),
                           [&](const recipe& r) { return r.name == name; });
    if (it != recipes_.end()) {
      user.shadows_bundled = true;
      // A drop-in replacement without fact lines keeps the bundled recipe's facts.
      if (!header.any) {
        user.requires_recipes = it->requires_recipes;
        user.service = it->service;
        user.secrets = it->secrets;
        user.always = it->always;
      }
    }
    std::vector<int> requires_lines = header.requires_lines;
    if (header.any || it == recipes_.end()) apply(user, std::move(header));
    user_requires.push_back({path, std::move(requires_lines), user.requires_recipes});
    if (it != recipes_.end()) {
      *it = std::move(user);
    } else {
      recipes_.push_back(std::move(user));
    }
  });
  std::sort(recipes_.begin(), recipes_.end(),
            [](const recipe& a, const recipe& b) { return a.name < b.name; });
  // Known only now that every user recipe is in: each required recipe must exist.
  for (const auto& [path, lines, names] : user_requires) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (find(names[i]) != nullptr) continue;
      detail::keep_going([&, &file = path, &line = lines[i], &needed = names[i]] {
        throw config_error(file, line, 1, "",
                           "\"# Requires:\" names \"" + needed + "\", which is not a recipe; see `dvm recipes`");
      });
    }
  }
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

}  // namespace dvm::v0
