// Time limits of the limactl calls libdvm makes.
#pragma once

#include <dvm/export.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string_view>

namespace dvm::inline v0 {

/// Time limits of limactl calls (zero: none).
struct timeouts {
  std::chrono::milliseconds query{std::chrono::seconds(60)};   ///< limactl --version, list
  std::chrono::milliseconds create{std::chrono::minutes(30)};  ///< create (downloads the image)
  std::chrono::milliseconds start{std::chrono::minutes(15)};
  std::chrono::milliseconds stop{std::chrono::minutes(5)};     ///< graceful stop, then stop -f
  std::chrono::milliseconds change{std::chrono::minutes(5)};   ///< edit, delete
  std::chrono::milliseconds guest{std::chrono::hours(2)};      ///< a sync's guest program
  std::chrono::milliseconds command{std::chrono::minutes(10)}; ///< guest scripts of rm, stop --inactive, keys

  /// One limit by name: `t.*field.member`.
  struct field {
    std::string_view name;  ///< "query", "create", ...: the member's name
    std::chrono::milliseconds timeouts::*member;
  };
  /// Every limit, in the order above: the one list that DVM_TIMEOUT's cap (CLI) and
  /// `timeouts={"start": 600}` (Python) go through.
  static constexpr std::array<field, 7> fields() {
    return {{{"query", &timeouts::query},
             {"create", &timeouts::create},
             {"start", &timeouts::start},
             {"stop", &timeouts::stop},
             {"change", &timeouts::change},
             {"guest", &timeouts::guest},
             {"command", &timeouts::command}}};
  }
};

/// DVM_TIMEOUT's value: a positive number of seconds ("120", "0.5"; digits and one fraction, at
/// most a year) that caps every limit above. nullopt for "" (unset); throws
/// dvm::error(errc::usage) naming the rule otherwise.
DVM_EXPORT std::optional<std::chrono::milliseconds> parse_timeout_cap(std::string_view text);

}  // namespace dvm::v0
