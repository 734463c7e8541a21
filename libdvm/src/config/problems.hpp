// How dvm::validate gathers every problem instead of stopping at the first. The config loader and
// the recipe catalog check by throwing dvm::config_error; a check that may be skipped to go on
// runs inside keep_going(). While a problem_sink is open on this thread, keep_going() records the
// error and returns false; with none open (config_store::load) the error propagates, so loading
// stops at the first problem as before.
#pragma once

#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include <string>
#include <utility>
#include <vector>

namespace dvm::inline v0::detail {

class problem_sink {
 public:
  explicit problem_sink(std::vector<config_problem>& out) : out_(out), previous_(open_) { open_ = this; }
  ~problem_sink() { open_ = previous_; }
  problem_sink(const problem_sink&) = delete;
  problem_sink& operator=(const problem_sink&) = delete;

  /// The sink of this thread's innermost dvm::validate, or null.
  static problem_sink* open() noexcept { return open_; }

  void add(const config_error& e, severity level = severity::error) {
    out_.push_back({e.file(), e.line(), e.column(), e.key_path(), e.rule(), level, vm});
  }

  std::string vm;  ///< the VM being checked ("" for config.toml and recipes)

 private:
  std::vector<config_problem>& out_;
  problem_sink* previous_;
  static thread_local problem_sink* open_;
};

/// Runs `check`; see the top of this file. True when it passed.
template <class Check>
bool keep_going(Check&& check) {
  problem_sink* sink = problem_sink::open();
  if (sink == nullptr) {
    std::forward<Check>(check)();
    return true;
  }
  try {
    std::forward<Check>(check)();
    return true;
  } catch (const config_error& e) {
    sink->add(e);
    return false;
  }
}

}  // namespace dvm::v0::detail
