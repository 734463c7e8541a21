// The guest program of `dvm sync` (product spec §7): one Bash program streamed over the stdin of
// a single `limactl shell ... /bin/bash -p -s`, with the secrets framed into the same stream.
#pragma once

#include <dvm/config.hpp>
#include <dvm/process.hpp>
#include <dvm/recipes.hpp>
#include <dvm/secret.hpp>

#include "recipes/fingerprint.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvm::inline v0::detail {

struct named_secret {
  std::string name;  ///< [A-Z_][A-Z0-9_]*
  const secret* value = nullptr;
};

/// Builds the program for `vm`. Progress markers carry `nonce`, which only the guest shell knows
/// (it is not exported), so output of recipes cannot forge them. A recipe whose fingerprint is
/// the one recorded in the guest is skipped unless `selection` or its policy says it runs.
stdin_payload build_sync_program(const vm_config& vm, const recipe_catalog& catalog,
                                 const std::vector<named_secret>& secrets, std::string_view nonce,
                                 const run_selection& selection = {});

/// `dvm doctor`'s program: the settings and helpers as a sync has them, then each recipe's
/// `dvm_check` function (recipe::check), in a subshell (guest/recipe-checks.sh). Output lines:
/// "check\t<recipe>\tok|failed\t<exit status>", "forgot\t<recipe>" (its record removed, so the
/// next sync runs it), then the done marker.
stdin_payload build_check_program(const vm_config& vm, const recipe_catalog& catalog, std::string_view nonce);

/// The argv of every guest program read from stdin (the sync program and the lifecycle scripts):
/// `/bin/bash -p -s`. An absolute path, because the login shell that limactl starts would look
/// `bash` up in the main user's login PATH, which may name a directory the agent writes; `-p`
/// (privileged mode) makes bash ignore BASH_ENV, ENV, SHELLOPTS, BASHOPTS, CDPATH, GLOBIGNORE and
/// functions from the environment.
std::vector<std::string> guest_bash_command();

/// A fresh random nonce (hex).
std::string make_nonce();

/// One progress marker parsed from the guest's stdout.
struct guest_marker {
  enum class kind { recipe_started, recipe_finished, recipe_skipped, hook_started, hook_finished, failed, done, alive };
  kind what;
  std::string step;  ///< recipe name, or ".dvm/sync.sh" for the hook
  int status = 0;    ///< for failed
};

/// Splits the guest's stdout into output lines and markers. Feed chunks as they arrive.
class guest_output_parser {
 public:
  explicit guest_output_parser(std::string nonce);
  /// Calls on_line(text) for each complete output line and on_marker(m) for each marker.
  template <class OnLine, class OnMarker>
  void feed(std::string_view chunk, OnLine&& on_line, OnMarker&& on_marker) {
    buffer_.append(chunk);
    std::size_t pos = 0;
    while (true) {
      std::size_t nl = buffer_.find('\n', pos);
      if (nl == std::string::npos) break;
      handle(std::string_view(buffer_).substr(pos, nl - pos), on_line, on_marker);
      pos = nl + 1;
    }
    buffer_.erase(0, pos);
  }
  /// The rest (an unterminated last line), at the end of the stream.
  template <class OnLine, class OnMarker>
  void finish(OnLine&& on_line, OnMarker&& on_marker) {
    if (!buffer_.empty()) handle(buffer_, on_line, on_marker);
    buffer_.clear();
  }

 private:
  template <class OnLine, class OnMarker>
  void handle(std::string_view line, OnLine& on_line, OnMarker& on_marker) {
    std::size_t at = line.find(prefix_);
    if (at == std::string_view::npos) {
      on_line(line);
      return;
    }
    // Output without a trailing newline followed by a marker: the text before it is a line.
    if (at > 0) on_line(line.substr(0, at));
    if (auto m = parse_marker(line.substr(at + prefix_.size()))) {
      on_marker(*m);
    } else {
      on_line(line.substr(at));
    }
  }
  static std::optional<guest_marker> parse_marker(std::string_view body);

  std::string prefix_;
  std::string buffer_;
};

}  // namespace dvm::v0::detail
