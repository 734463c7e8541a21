// What a sync's guest program reported so far, from its output lines and markers
// (guest/program.hpp): the events, each recipe's result, the sync's log (state/sync_log.hpp) and
// what a failure message says.
#pragma once

#include <dvm/client.hpp>
#include <dvm/events.hpp>

#include "guest/output.hpp"
#include "guest/program.hpp"
#include "state/sync_log.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dvm::inline v0::detail {

class sync_progress {
 public:
  /// `log` may be null (the sync has no log).
  sync_progress(std::string vm, sync_result& result, std::function<void(event)> emit, sync_log* log);

  void line(std::string_view text);
  void marker(const guest_marker& m);

  bool succeeded(const process_result& r) const { return r.exit_code == 0 && done_ && !failure_; }
  /// The guest program printed something (a line or a marker): it ran.
  bool heard_from_guest() const noexcept { return heard_; }

  /// Logs how the call ended (limactl's stderr, the outcome).
  void finish(const process_result& r, const std::string& instance);

  /// Why the sync failed: the step that failed (or what happened to the connection), the tail of
  /// limactl's stderr and the log's path. A failed recipe's last lines were in its
  /// recipe_failed event already; for other failures the last output lines are quoted too.
  std::string failure_message(const process_result& r, const std::string& instance) const;
  /// The same for a `limactl shell` that failed before the guest program printed anything.
  std::string shell_failure_message(const process_result& r, const std::string& instance) const;

 private:
  std::string headline(const process_result& r, const std::string& instance) const;
  std::string recent_lines() const;
  void next_step();
  bool has_log() const noexcept { return log_ != nullptr && !log_->path().empty(); }
  // `message`, then the tail of limactl's stderr and the log's path.
  std::string with_stderr_and_log(std::string message, const process_result& r) const;
  void log(std::string_view text) {
    if (log_ != nullptr) log_->line(text);
  }

  using clock = std::chrono::steady_clock;
  std::string vm_;
  sync_result& result_;
  std::function<void(event)> emit_;
  sync_log* log_;
  std::deque<std::string> recent_;  // the current step's last output lines
  std::optional<guest_marker> failure_;
  bool done_ = false;
  bool heard_ = false;
  std::string step_;
  clock::time_point step_started_ = clock::now();
};

}  // namespace dvm::v0::detail
