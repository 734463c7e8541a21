// Incremental sync (libdvm/recipes/README.md, "When a recipe runs"): each recipe of a VM gets a
// fingerprint of everything on the host that can change what it does. The guest program records
// it (guest/sync-fingerprints.sh) after the recipe succeeded, and skips the recipe at the next
// sync while the fingerprint is the same.
#pragma once

#include <dvm/client.hpp>
#include <dvm/config.hpp>
#include <dvm/recipes.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// Lower-case hex SHA-256 of `data` (libcrypto).
std::string sha256_hex(std::string_view data);

/// The recipes a sync runs whatever their fingerprints say.
struct run_selection {
  bool full = false;                ///< `sync --full`: every recipe
  std::vector<std::string> forced;  ///< `sync --recipe NAME`
};

/// When the guest program runs a recipe.
enum class run_policy {
  when_changed,  ///< only when its fingerprint differs from the one recorded in the guest
  always,        ///< the baseline, and `# Always: true`
  forced,        ///< named by run_selection
};
/// The word the guest program's __dvm_run_recipe takes: "changed", "always", "forced".
std::string_view policy_word(run_policy p) noexcept;

/// One recipe of a VM's sync, in run order.
struct recipe_step {
  const recipe* r = nullptr;
  /// Hex SHA-256 of: the fingerprint format and libdvm's version, the guest program's runner,
  /// the helper library, the recipe's name and text, DVM_NAME/USER/AGENT_USER/CODE_DIR, each
  /// [env] value the recipe or the helpers name, the fingerprints of its `# Requires:` recipes
  /// and the names of the staged secrets it uses. The guest adds a keyed digest of each such
  /// secret's value; no secret-derived value is computed on the host.
  std::string fingerprint;
  run_policy policy = run_policy::when_changed;
  std::vector<std::string> secrets;  ///< staged secrets it uses, sorted
};

/// The names of the recipes a sync of `vm` runs, in order: the baseline (unless `baseline =
/// false`), then the VM's recipes.
std::vector<std::string> run_order(const vm_config& vm);

/// The baseline (unless `baseline = false`), then the VM's recipes. `staged_secrets`: the names
/// of the secrets the sync stages. Names in `selection.forced` must be among the steps (callers
/// check; see unknown_forced_recipes).
std::vector<recipe_step> sync_steps(const vm_config& vm, const recipe_catalog& catalog,
                                    const std::vector<std::string>& staged_secrets, const run_selection& selection);

/// The names of `selection.forced` that `vm` does not run.
std::vector<std::string> unknown_forced_recipes(const vm_config& vm, const run_selection& selection);

/// One record of the guest's store as guest/recipe-records.sh prints it.
struct recipe_record {
  std::string host_fingerprint;
  std::int64_t unix_time = 0;
};

/// The records in recipe-records.sh's output ("record\t<name>\t<fingerprint>\t<time>" lines,
/// then "end"); nullopt when the output did not end with "end" (the read failed).
std::optional<std::map<std::string, recipe_record>> parse_recipe_records(std::string_view output);

/// Each step against its record; `records` nullopt: not read (every freshness unknown).
std::vector<recipe_state> recipe_states_of(const std::vector<recipe_step>& steps,
                                           const std::optional<std::map<std::string, recipe_record>>& records);

/// Whether `text` names `word` (an identifier, [A-Z0-9_]+) whole: not as part of a longer
/// identifier, except after one of `prefixes` (e.g. "DVM_" for `$DVM_KEY`).
bool names_identifier(std::string_view text, std::string_view word, std::initializer_list<std::string_view> prefixes);

}  // namespace dvm::v0::detail
