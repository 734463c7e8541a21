// Test-only: writes the real guest program of `dvm sync` (detail::build_sync_program), secrets
// included, to stdout, so the recipe tests run exactly what libdvm streams into the guest.
//
// stdin: one JSON object
//   {"name": "app", "user": "dev", "code_dir": "~/code/app", "agent_user": "dvm-agent",
//    "env": {"KEY": "text", ...}, "recipes": ["git", ...], "baseline": false,
//    "user_recipes_dir": "/dir/with/<name>.sh" (optional), "nonce": "hex",
//    "secrets": {"NAME": "value", ...}, "full": true}
// "full" (default true): every recipe runs, as `dvm sync --full` (the recipe tests check what a
// recipe does when it runs again, which an unchanged fingerprint would skip).
// Exit 0, or 2 with a message on stderr.
#include "guest/program.hpp"

#include <dvm/config.hpp>
#include <dvm/process.hpp>
#include <dvm/recipes.hpp>
#include <dvm/secret.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <iterator>
#include <list>
#include <span>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;

std::string text_of(const json::object& o, const char* key, const std::string& fallback = {}) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  return std::string(v->as_string());
}

// The payload's real bytes are readable only by a process_runner.
struct payload_writer : dvm::process_runner {
  dvm::process_result run(const dvm::process_spec&) override { return {}; }
  static bool write(const dvm::stdin_payload& payload) {
    std::span<const char> b = bytes_of(payload);
    return std::fwrite(b.data(), 1, b.size(), stdout) == b.size() && std::fflush(stdout) == 0;
  }
};

}  // namespace

int main() {
  try {
    std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    json::object spec = json::parse(input).as_object();

    dvm::vm_config vm;
    vm.name = text_of(spec, "name", "app");
    vm.user = text_of(spec, "user", "dev");
    vm.code_dir = text_of(spec, "code_dir", "~/code/" + vm.name);
    vm.agent_user = text_of(spec, "agent_user", "dvm-agent");
    vm.baseline = spec.if_contains("baseline") != nullptr && spec.at("baseline").as_bool();
    if (const json::value* recipes = spec.if_contains("recipes")) {
      for (const auto& r : recipes->as_array()) vm.recipes.emplace_back(r.as_string());
    }
    if (const json::value* env = spec.if_contains("env")) {
      for (const auto& [key, value] : env->as_object()) vm.env.emplace_back(key, std::string(value.as_string()));
    }
    std::string user_dir = text_of(spec, "user_recipes_dir");
    dvm::recipe_catalog catalog = user_dir.empty() ? dvm::recipe_catalog() : dvm::recipe_catalog(user_dir);
    for (const auto& name : vm.recipes) {
      if (catalog.find(name) == nullptr) {
        std::cerr << "render_sync_program: unknown recipe " << name << "\n";
        return 2;
      }
    }

    std::list<dvm::secret> values;  // stable addresses for named_secret
    std::vector<dvm::detail::named_secret> secrets;
    if (const json::value* s = spec.if_contains("secrets")) {
      for (const auto& [key, value] : s->as_object()) {
        values.emplace_back(std::string_view(value.as_string()));
        secrets.push_back({std::string(key), &values.back()});
      }
    }
    dvm::detail::run_selection selection;
    const json::value* full = spec.if_contains("full");
    selection.full = full == nullptr || full->as_bool();
    dvm::stdin_payload program = dvm::detail::build_sync_program(
        vm, catalog, secrets, text_of(spec, "nonce", "0123456789abcdef"), selection);
    return payload_writer::write(program) ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "render_sync_program: " << e.what() << "\n";
    return 2;
  }
}
