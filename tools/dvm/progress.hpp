// Renders libdvm's events while a command runs: a live view on a terminal, plain lines in
// logs, JSON lines with --json.
#pragma once

#include <dvm/events.hpp>

#include <chrono>
#include <iostream>
#include <ostream>
#include <string>

namespace dvm_cli {

class progress_view {
 public:
  enum class style {
    live,   ///< stderr is a terminal and one VM is synced: one line per step (a limactl call
            ///< with Lima's progress, a recipe), updated in place
    plain,  ///< one line per event on stderr, guest output included
    json,   ///< one JSON object per event on stdout
  };
  /// `json_out`: where JSON lines go (stdout for a sync's event stream).
  progress_view(style s, bool verbose, std::ostream& json_out = std::cout)
      : style_(s), verbose_(verbose), json_out_(json_out) {}
  void operator()(const dvm::event& e);

 private:
  void live(const dvm::event& e);
  void plain(const dvm::event& e);
  void json(const dvm::event& e);
  void close_line();
  void show_lima_progress(const dvm::event& e);
  void finish_lima_step(const dvm::event& e);

  style style_;
  bool verbose_;
  std::ostream& json_out_;
  bool line_open_ = false;  // live: the current step's line is not terminated yet
  std::string open_step_;
  bool lima_step_open_ = false;  // live: the open line is a limactl call's progress
};

/// "3.2 s" / "250 ms".
std::string seconds_text(std::chrono::milliseconds d);

}  // namespace dvm_cli
