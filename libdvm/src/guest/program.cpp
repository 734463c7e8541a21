#include "guest/program.hpp"

#include "guest/shell.hpp"
#include "recipes/fingerprint.hpp"

#include <dvm/error.hpp>

#include <array>
#include <charconv>
#include <random>

namespace dvm::inline v0::detail {

namespace {

std::string export_line(std::string_view name, std::string_view value) {
  return "export " + std::string(name) + "=" + shell_quote(value) + "\n";
}

// The fixed start of a program that runs recipe code: the safe environment, the nonce, the
// prelude (strict mode, traps) and the exported settings (DVM_NAME, ..., DVM_<env key>).
void append_start(stdin_payload& out, const vm_config& vm, std::string_view nonce) {
  // The Bash of the program is in libdvm/guest/sync-*.sh (threat model: sync-prelude.sh); only
  // values, quoted, and the secret frames are written here.
  out.append(safe_guest_environment());  // IFS: bash never takes it from the environment
  out.append("__dvm_nonce=" + shell_quote(nonce) + "\n");
  out.append(guest_script("sync-prelude"));

  out.append(export_line("DVM_NAME", vm.name));
  out.append(export_line("DVM_USER", vm.user));
  out.append(export_line("DVM_AGENT_USER", vm.agent_user));
  out.append("DVM_CODE_DIR=" + guest_path_expression(vm.code_dir) + "\nexport DVM_CODE_DIR\n");
  for (const auto& [key, value] : vm.env) out.append(export_line("DVM_" + key, value));
}

void append_helpers(stdin_payload& out, const recipe_catalog& catalog) {
  out.append("# dvm recipe helpers\n");
  out.append(catalog.helpers());
  if (!catalog.helpers().empty() && catalog.helpers().back() != '\n') out.append("\n");
}

}  // namespace

std::vector<std::string> guest_bash_command() { return {"/bin/bash", "-p", "-s"}; }

std::string make_nonce() {
  std::random_device rd;
  std::array<unsigned, 4> words{rd(), rd(), rd(), rd()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned w : words) {
    for (int i = 0; i < 8; ++i) out += hex[(w >> (i * 4)) & 0xf];
  }
  return out;
}

stdin_payload build_sync_program(const vm_config& vm, const recipe_catalog& catalog,
                                 const std::vector<named_secret>& secrets, std::string_view nonce,
                                 const run_selection& selection) {
  stdin_payload out;
  out.append("# dvm guest program for VM " + vm.name +
             ": streamed over stdin, never stored on the host.\n");
  append_start(out, vm, nonce);
  out.append(guest_script("sync-setup"));

  if (!secrets.empty()) {
    out.append(guest_script("sync-secret-reader"));
    // The call must be a simple command on a line of its own, directly followed by the frames.
    out.append("__dvm_read_secrets " + std::to_string(secrets.size()) + "\n");
    for (const auto& s : secrets) {
      // Callers validate names; a frame header with another character would not parse in the
      // guest, so refuse it here too rather than send it.
      if (!is_valid_secret_name(s.name)) throw error(errc::usage, "\"" + s.name + "\" is not a valid secret name: use [A-Z_][A-Z0-9_]*");
      // The length is marked secret too, so `dvm plan` does not show how long a value is.
      out.append(s.name + " ");
      out.append(secret(std::to_string(s.value->size())));
      out.append("\n");
      out.append(*s.value);
    }
    out.append("\n");
  }

  // From here on, recipe errors and output share one ordered stream.
  out.append("exec 2>&1\n");
  append_helpers(out, catalog);
  out.append(guest_script("sync-runner"));

  out.append(guest_script("sync-fingerprints"));

  std::vector<std::string> staged;
  for (const auto& s : secrets) staged.push_back(s.name);
  const std::vector<recipe_step> steps = sync_steps(vm, catalog, staged, selection);
  // One sudo call reads the records (and forgets those of recipes the VM no longer runs) and
  // digests the secrets.
  std::string load = "__dvm_fp_load " + std::to_string(staged.size());
  for (const auto& s : staged) load += " " + s;
  for (const auto& step : steps) load += " " + shell_quote(step.r->name);
  out.append(load + "\n");
  int index = 0;
  for (const auto& step : steps) {
    const recipe& r = *step.r;
    std::string fn = "__dvm_recipe_" + std::to_string(++index);
    out.append("# dvm recipe: " + r.name + (r.bundled ? " (bundled)" : " (user)") + "\n");
    out.append(fn + "() {\n");
    out.append(r.text);
    if (!r.text.empty() && r.text.back() != '\n') out.append("\n");
    out.append(":\n}\n");
    // Its dvm_every_sync, run after the recipe or alone when the recipe is skipped.
    std::string every = "-";
    if (!r.every_sync.empty()) {
      every = "__dvm_every_" + std::to_string(index);
      out.append(every + "() {\n" + r.every_sync + "dvm_every_sync\n}\n");
    }
    std::string call = "__dvm_run_recipe " + shell_quote(r.name) + " " + fn + " " + step.fingerprint + " " +
                       std::string(policy_word(step.policy)) + " " + every;
    for (const auto& s : step.secrets) call += " " + s;
    out.append(call + "\n");
  }
  out.append(guest_script("sync-finale"));
  return out;
}

stdin_payload build_check_program(const vm_config& vm, const recipe_catalog& catalog, std::string_view nonce) {
  stdin_payload out;
  out.append("# dvm doctor: the dvm_check functions of VM " + vm.name + "'s recipes\n");
  append_start(out, vm, nonce);
  out.append("exec 2>&1\n");
  append_helpers(out, catalog);
  std::string checks = "__dvm_checks=(";
  int index = 0;
  for (const auto& step : sync_steps(vm, catalog, {}, {})) {
    if (step.r->check.empty()) continue;
    std::string fn = "__dvm_check_" + std::to_string(++index);
    out.append("# dvm check of recipe " + step.r->name + "\n" + fn + "() {\n");
    out.append(step.r->check);
    out.append("dvm_check\n}\n");
    checks += " " + shell_quote(step.r->name + " " + fn);
  }
  out.append(checks + " )\n");
  out.append(guest_script("recipe-checks"));
  return out;
}

guest_output_parser::guest_output_parser(std::string nonce)
    : prefix_("::dvm-" + nonce + "::") {}

std::optional<guest_marker> guest_output_parser::parse_marker(std::string_view body) {
  auto word = [&]() {
    std::size_t sp = body.find(' ');
    std::string_view w = body.substr(0, sp);
    body = sp == std::string_view::npos ? std::string_view() : body.substr(sp + 1);
    return w;
  };
  std::string_view what = word();
  guest_marker m{guest_marker::kind::done, {}, 0};
  if (what == "recipe-start") {
    m.what = guest_marker::kind::recipe_started;
  } else if (what == "recipe-done") {
    m.what = guest_marker::kind::recipe_finished;
  } else if (what == "recipe-skipped") {
    m.what = guest_marker::kind::recipe_skipped;
  } else if (what == "hook-start") {
    m.what = guest_marker::kind::hook_started;
  } else if (what == "hook-done") {
    m.what = guest_marker::kind::hook_finished;
  } else if (what == "alive") {
    m.what = guest_marker::kind::alive;
    return body.empty() ? std::optional<guest_marker>(m) : std::nullopt;
  } else if (what == "done") {
    return body.empty() ? std::optional<guest_marker>(m) : std::nullopt;
  } else if (what == "failed") {
    m.what = guest_marker::kind::failed;
    std::string_view status = word();
    auto [p, ec] = std::from_chars(status.data(), status.data() + status.size(), m.status);
    if (ec != std::errc() || p != status.data() + status.size()) return std::nullopt;
    // The step stays "recipe NAME" or "hook PATH".
    if (!body.starts_with("recipe ") && !body.starts_with("hook ")) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (body.empty()) return std::nullopt;
  m.step = std::string(body);
  return m;
}

}  // namespace dvm::v0::detail
