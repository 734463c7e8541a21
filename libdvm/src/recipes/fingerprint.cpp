#include "recipes/fingerprint.hpp"

#include "guest/shell.hpp"

#include <dvm/error.hpp>
#include <dvm/version.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>

namespace dvm::inline v0::detail {

namespace {

bool identifier_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// The fingerprint's input: tagged, length-prefixed fields, so no two different inputs serialise
// alike.
class fingerprint_input {
 public:
  void field(std::string_view tag, std::string_view value) {
    text_.append(tag).append(" ").append(std::to_string(value.size())).append(":").append(value).append("\n");
  }
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
};

// Every [env] key a text reads: `$DVM_KEY`, or `KEY` as `dvm_setting KEY` / `dvm_bool KEY` take
// it. The helpers read PIN_<NAME>_URL/_SHA256 through a name they build, for every recipe that
// calls dvm_pinned_install.
bool reads_setting(std::string_view text, std::string_view key) {
  if (names_identifier(text, key, {"DVM_"})) return true;
  return key.starts_with("PIN_") && text.find("dvm_pinned_install") != std::string_view::npos;
}

bool uses_secret(const recipe& r, std::string_view helpers, std::string_view name) {
  if (std::any_of(r.secrets.begin(), r.secrets.end(), [&](const recipe_secret& s) { return s.name == name; })) {
    return true;
  }
  return names_identifier(r.text, name, {"DVM_SECRET_FILE_"}) || names_identifier(helpers, name, {"DVM_SECRET_FILE_"});
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    throw error(errc::internal, "libcrypto could not compute a SHA-256 digest");
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

std::string_view policy_word(run_policy p) noexcept {
  switch (p) {
    case run_policy::when_changed: return "changed";
    case run_policy::always: return "always";
    case run_policy::forced: return "forced";
  }
  return "changed";
}

bool names_identifier(std::string_view text, std::string_view word, std::initializer_list<std::string_view> prefixes) {
  if (word.empty()) return false;
  for (std::size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    std::size_t end = at + word.size();
    if (end < text.size() && identifier_char(text[end])) continue;
    if (at == 0 || !identifier_char(text[at - 1])) return true;
    for (std::string_view prefix : prefixes) {
      if (at >= prefix.size() && text.substr(at - prefix.size(), prefix.size()) == prefix &&
          (at == prefix.size() || !identifier_char(text[at - prefix.size() - 1]))) {
        return true;
      }
    }
  }
  return false;
}

std::vector<std::string> run_order(const vm_config& vm) {
  std::vector<std::string> names;
  if (vm.baseline) names.emplace_back(baseline_recipe);
  names.insert(names.end(), vm.recipes.begin(), vm.recipes.end());
  return names;
}

std::vector<std::string> unknown_forced_recipes(const vm_config& vm, const run_selection& selection) {
  const std::vector<std::string> names = run_order(vm);
  std::vector<std::string> out;
  for (const auto& name : selection.forced) {
    if (std::find(names.begin(), names.end(), name) == names.end()) out.push_back(name);
  }
  return out;
}

std::vector<recipe_step> sync_steps(const vm_config& vm, const recipe_catalog& catalog,
                                    const std::vector<std::string>& staged_secrets, const run_selection& selection) {
  const std::vector<std::string> names = run_order(vm);

  // What every recipe's fingerprint holds: the format, the guest program's runner, the helpers,
  // the VM's identity, and the [env] values the helpers read for any recipe.
  fingerprint_input common;
  common.field("format", "dvm-recipe-fingerprint-1");
  common.field("libdvm", version());
  common.field("runner", guest_script("sync-runner"));
  common.field("fingerprints", guest_script("sync-fingerprints"));
  common.field("helpers", catalog.helpers());
  common.field("DVM_NAME", vm.name);
  common.field("DVM_USER", vm.user);
  common.field("DVM_AGENT_USER", vm.agent_user);
  common.field("DVM_CODE_DIR", vm.code_dir);
  for (const auto& [key, value] : vm.env) {
    // Not reads_setting: the helpers define dvm_pinned_install, they do not call it for a pin.
    if (names_identifier(catalog.helpers(), key, {"DVM_"})) common.field("env " + key, value);
  }

  const std::string common_digest = sha256_hex(common.text());  // hashed once, not per recipe

  std::vector<recipe_step> out;
  for (const auto& name : names) {
    const recipe* r = catalog.find(name);
    if (r == nullptr) continue;  // the config loader has already refused unknown recipes
    recipe_step step;
    step.r = r;
    fingerprint_input in;
    in.field("common", common_digest);
    in.field("recipe", r->name);
    in.field("text", r->text);
    for (const auto& [key, value] : vm.env) {
      if (reads_setting(r->text, key)) in.field("env " + key, value);
    }
    for (const auto& needed : r->requires_recipes) {
      auto earlier = std::find_if(out.begin(), out.end(), [&](const recipe_step& s) { return s.r->name == needed; });
      in.field("requires " + needed, earlier == out.end() ? std::string() : earlier->fingerprint);
    }
    for (const auto& secret_name : staged_secrets) {
      if (uses_secret(*r, catalog.helpers(), secret_name)) step.secrets.push_back(secret_name);
    }
    std::sort(step.secrets.begin(), step.secrets.end());
    for (const auto& s : step.secrets) in.field("secret", s);
    step.fingerprint = sha256_hex(in.text());

    bool forced = selection.full ||
                  std::find(selection.forced.begin(), selection.forced.end(), name) != selection.forced.end();
    if (forced) {
      step.policy = run_policy::forced;
    } else if (r->always || r->name == baseline_recipe) {
      step.policy = run_policy::always;
    }
    out.push_back(std::move(step));
  }
  return out;
}

std::optional<std::map<std::string, recipe_record>> parse_recipe_records(std::string_view output) {
  std::map<std::string, recipe_record> out;
  bool ended = false;
  while (!output.empty()) {
    std::size_t nl = output.find('\n');
    std::string_view line = output.substr(0, nl);
    output = nl == std::string_view::npos ? std::string_view() : output.substr(nl + 1);
    if (line == "end") {
      ended = true;
      continue;
    }
    if (!line.starts_with("record\t")) continue;
    line.remove_prefix(7);
    std::size_t t1 = line.find('\t');
    std::size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) continue;
    std::string_view name = line.substr(0, t1);
    std::string_view fingerprint = line.substr(t1 + 1, t2 - t1 - 1);
    std::string_view time = line.substr(t2 + 1);
    recipe_record r;
    auto [p, ec] = std::from_chars(time.data(), time.data() + time.size(), r.unix_time);
    if (ec != std::errc() || p != time.data() + time.size() || !is_valid_recipe_name(name) || fingerprint.size() != 64) {
      continue;
    }
    r.host_fingerprint = std::string(fingerprint);
    out.insert_or_assign(std::string(name), std::move(r));
  }
  if (!ended) return std::nullopt;
  return out;
}

std::vector<recipe_state> recipe_states_of(const std::vector<recipe_step>& steps,
                                           const std::optional<std::map<std::string, recipe_record>>& records) {
  std::vector<recipe_state> out;
  for (const auto& step : steps) {
    recipe_state s;
    s.name = step.r->name;
    s.always = step.policy == run_policy::always;
    s.every_sync = !step.r->every_sync.empty();
    if (records) {
      auto it = records->find(s.name);
      if (it == records->end()) {
        s.freshness = recipe_freshness::never_ran;
      } else {
        s.last_run = std::chrono::system_clock::time_point(std::chrono::seconds(it->second.unix_time));
        if (it->second.host_fingerprint != step.fingerprint) {
          s.freshness = recipe_freshness::changed;
        } else {
          s.freshness = step.secrets.empty() ? recipe_freshness::current
                                             : recipe_freshness::current_unless_secrets_changed;
        }
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace dvm::v0::detail
