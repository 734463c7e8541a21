// Time limits of the limactl calls libdvm makes.
#pragma once

#include <chrono>

namespace dvm {

/// Time limits of limactl calls (zero: none).
struct timeouts {
  std::chrono::milliseconds query{std::chrono::seconds(60)};   ///< limactl --version, list
  std::chrono::milliseconds create{std::chrono::minutes(30)};  ///< create (downloads the image)
  std::chrono::milliseconds start{std::chrono::minutes(15)};
  std::chrono::milliseconds stop{std::chrono::minutes(5)};     ///< graceful stop, then stop -f
  std::chrono::milliseconds change{std::chrono::minutes(5)};   ///< edit, delete
  std::chrono::milliseconds guest{std::chrono::hours(2)};      ///< a sync's guest program
  std::chrono::milliseconds command{std::chrono::minutes(10)}; ///< guest scripts of rm, stop --inactive, keys
};

}  // namespace dvm
