// The recipe catalog: bundled recipes (compiled into libdvm) and the user's own recipes from
// $DVM_CONFIG/recipes/<name>.sh, which override bundled ones of the same name.
#pragma once

#include <dvm/export.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0 {

/// The recipe every VM runs first unless its config says `baseline = false`.
inline constexpr std::string_view baseline_recipe = "baseline";

/// A systemd unit a recipe runs, from its `# Service: UNIT [env=KEY]` header line. `dvm log`
/// infers it and the activity check (`dvm stop --inactive`, a sync that must restart) counts
/// it as use.
struct recipe_service {
  std::string unit;     ///< the default name, e.g. "dvm-llama.service"
  std::string env_key;  ///< the [env] key that renames the unit, e.g. "LLAMA_SERVICE" ("" when none)
};

/// A host secret a recipe uses, from its `# Secret: NAME [alias=NAME] [prefix=TEXT]
/// [charset=token]` header line: `dvm sync` stages it, without it being listed in `secrets`,
/// whenever it is set in dvm's environment, and refuses a value that breaks its rules.
struct recipe_secret {
  std::string name;    ///< staged under this name, e.g. "TAILSCALE_AUTH_KEY"
  std::string alias;   ///< a host variable read before `name`, e.g. "DVM_TAILSCALE_AUTH_KEY" ("" when none)
  std::string prefix;  ///< the value must start with this, e.g. "tskey-" ("" when any)
  bool token_charset = false;  ///< charset=token: the value may only hold A-Z a-z 0-9 . _ = -

  /// The characters of charset=token (and of every prefix=): A-Z a-z 0-9 . _ = -
  static constexpr bool token_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '=' || c == '-';
  }
};

/// One recipe: a Bash fragment that runs in the guest when a sync finds it changed (or always), and
/// must be idempotent.
/// Its facts come from its header (the leading run of `#` lines; see libdvm/recipes/README.md).
struct recipe {
  std::string name;         ///< e.g. "node"
  std::string description;  ///< from the first line "# Description: <text>"
  std::string text;         ///< the Bash fragment
  bool bundled = true;      ///< false for a user recipe
  bool shadows_bundled = false;  ///< a user recipe that overrides a bundled one
  std::filesystem::path path;    ///< the user recipe's file (empty for bundled ones)
  /// `# Requires: NAME...`: recipes that must come earlier in a VM's list (or be the baseline).
  std::vector<std::string> requires_recipes;
  std::optional<recipe_service> service;  ///< `# Service:`
  std::vector<recipe_secret> secrets;     ///< `# Secret:` lines, in file order
  /// `# Always: true`: `dvm sync` runs it every time, even when its fingerprint (what it depends
  /// on) is unchanged. The baseline always runs too.
  bool always = false;
  /// The recipe's `dvm_check` function, from a line that starts with `dvm_check()` to the first
  /// line that is `}` alone ("" when it has none): a cheap test that what the recipe set up is
  /// still there (e.g. `command -v node`). `dvm doctor` runs it; when it fails, the next sync
  /// runs the recipe even if its fingerprint is unchanged.
  std::string check;
  /// The recipe's `dvm_every_sync` function, delimited like `check` ("" when it has none): the
  /// cheap part of the recipe that must happen at every sync, e.g. agent-user's deny ACLs on the
  /// main user's secret files created since the last sync. `dvm sync` runs it after the recipe,
  /// and alone when the recipe is unchanged and skipped; when it fails, the next sync runs the
  /// whole recipe.
  std::string every_sync;
};

/// Recipe names: [a-z0-9][a-z0-9-]*, at most 64 characters.
DVM_EXPORT bool is_valid_recipe_name(std::string_view name) noexcept;

/// The recipes a config may name: the bundled ones, overridden by the user's of the same name.
class DVM_EXPORT recipe_catalog {
 public:
  /// Bundled recipes only.
  recipe_catalog();
  /// Bundled recipes plus the user's *.sh files in `user_dir` (missing dir: none). Throws
  /// dvm::config_error (file, line, rule) for a user recipe without a valid name or
  /// Description line, or with a malformed header line. A user recipe that overrides a
  /// bundled one and has no Requires/Service/Secret line keeps the bundled one's.
  explicit recipe_catalog(const std::filesystem::path& user_dir);

  /// nullptr when unknown.
  const recipe* find(std::string_view name) const noexcept;
  /// All recipes, sorted by name.
  const std::vector<recipe>& all() const noexcept { return recipes_; }
  /// The shared helper library that the guest program loads before any recipe.
  const std::string& helpers() const noexcept { return helpers_; }

 private:
  std::vector<recipe> recipes_;
  std::string helpers_;
};

/// The bundled VM config templates for `dvm init` (app, llama, cloudflared, tailscale).
DVM_EXPORT std::vector<std::string> init_template_names();

/// One bundled `dvm init` template (`dvm templates`).
struct init_template {
  std::string name;
  std::string description;  ///< from the template's first line, e.g. "a llama.cpp server on port 8080"
};

/// Every bundled `dvm init` template, sorted by name.
DVM_EXPORT std::vector<init_template> init_templates();

}  // namespace dvm::v0
