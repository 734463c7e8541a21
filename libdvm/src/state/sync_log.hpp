// The log of one sync: everything the guest program printed, with its steps, in
// <state dir>/logs/<vm>.<UTC time>.log. Secrets cannot appear in it: they reach the guest on
// stdin and are never part of its output (what a recipe prints is shown live anyway). The
// file is created 0600 under the 0700 state dir without following links (state/files.hpp); the
// newest `keep` logs of a VM are kept, older ones removed. Logging is best effort: a log that
// cannot be written never fails the sync (path() is then empty and a warning says why).
#pragma once

#include "state/files.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace dvm::inline v0::detail {

class sync_log {
 public:
  /// How many logs of one VM are kept.
  static constexpr std::size_t keep = 5;

  /// Creates the VM's new log and removes its oldest beyond `keep`. Throws dvm::error(errc::io)
  /// when the state dir or the file cannot be used.
  sync_log(const std::filesystem::path& state_dir, const std::string& vm);

  /// One line of output, or a note of dvm's own ("== recipe node started").
  void line(std::string_view text);
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  unique_fd fd_;
  std::filesystem::path path_;
  bool failed_ = false;  // a write failed: stop writing, keep syncing
};

/// "app.20261202T172530.123Z.log": the VM name, the UTC time to the millisecond (names sort by
/// time), ".log".
std::string sync_log_name(const std::string& vm, std::chrono::system_clock::time_point at);

}  // namespace dvm::v0::detail
