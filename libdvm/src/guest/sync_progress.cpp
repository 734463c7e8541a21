#include "guest/sync_progress.hpp"

#include "lima/limactl_output.hpp"
#include "text/lines.hpp"

#include <cstdio>
#include <utility>

namespace dvm::inline v0::detail {

namespace {

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t);
}

std::string seconds(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return text;
}

}  // namespace

sync_progress::sync_progress(std::string vm, sync_result& result, std::function<void(event)> emit,
                             sync_log* log)
    : vm_(std::move(vm)), result_(result), emit_(std::move(emit)), log_(log) {}

void sync_progress::line(std::string_view text) {
  heard_ = true;
  emit_(event{event_kind::output, vm_, step_, {}, 0, {}, std::string(text)});
  log(text);
  recent_.emplace_back(text);
  if (recent_.size() > 20) recent_.pop_front();
}

void sync_progress::marker(const guest_marker& m) {
  heard_ = true;
  using kind = guest_marker::kind;
  switch (m.what) {
    case kind::recipe_started:
    case kind::hook_started:
      step_ = m.step;
      step_started_ = clock::now();
      recent_.clear();
      log(std::string(m.what == kind::recipe_started ? "== recipe " : "== project hook ") + m.step + " started");
      emit_(event{m.what == kind::recipe_started ? event_kind::recipe_started : event_kind::hook_started,
                  vm_, m.step, {}, 0, {}, {}});
      break;
    case kind::recipe_finished:
      result_.recipes.push_back({m.step, since(step_started_), true});
      log("== recipe " + m.step + " finished (" + seconds(since(step_started_)) + ")");
      emit_(event{event_kind::recipe_finished, vm_, m.step, {}, 0, since(step_started_), {}});
      step_.clear();
      next_step();
      break;
    case kind::recipe_skipped:
      result_.recipes.push_back({m.step, std::chrono::milliseconds(0), true, true});
      log("== recipe " + m.step + " unchanged: not run");
      emit_(event{event_kind::recipe_skipped, vm_, m.step, {}, 0, {}, {}});
      next_step();
      break;
    case kind::hook_finished:
      log("== project hook " + step_ + " finished (" + seconds(since(step_started_)) + ")");
      step_.clear();
      break;
    case kind::failed: {
      failure_ = m;
      std::string step_name = m.step.substr(m.step.find(' ') + 1);
      if (m.step.starts_with("recipe ")) result_.recipes.push_back({step_name, since(step_started_), false});
      log("== " + m.step + " failed (exit " + std::to_string(m.status) + ", " + seconds(since(step_started_)) + ")");
      emit_(event{event_kind::recipe_failed, vm_, step_name, {}, m.status, since(step_started_), recent_lines()});
      break;
    }
    case kind::done:
      done_ = true;
      break;
    case kind::alive:  // the guest's keepalive while secrets are staged
      break;
  }
}

void sync_progress::finish(const process_result& r, const std::string& instance) {
  if (!r.err.empty()) {
    log("== limactl shell's stderr:");
    for (const auto& l : split_lines(r.err)) log(l);
  }
  log(succeeded(r) ? "== the sync succeeded" : "== the sync failed: " + headline(r, instance));
}

std::string sync_progress::headline(const process_result& r, const std::string& instance) const {
  if (failure_) {
    std::string step_name = failure_->step.substr(failure_->step.find(' ') + 1);
    if (failure_->status == 0) {
      return "recipe " + step_name + " ended the sync early with `exit` (recipes must use `return`)";
    }
    return (failure_->step.starts_with("hook ") ? "the project hook " + step_name : "recipe " + step_name) +
           " failed (exit " + std::to_string(failure_->status) + ")";
  }
  if (r.exit_code == 255) return "the connection to " + instance + " broke during the sync (ssh exit 255)";
  if (r.exit_code == 0) return "the guest program ended before it finished";
  return "the guest program failed (exit " + std::to_string(exit_status(r)) + ")";
}

std::string sync_progress::failure_message(const process_result& r, const std::string& instance) const {
  std::string message = headline(r, instance);
  // Without a recipe_failed event (or a log to read), the last lines are the only ones shown.
  if (!failure_ || !has_log()) {
    if (std::string last = recent_lines(); !last.empty()) message += "\n" + last;
  }
  return with_stderr_and_log(std::move(message), r);
}

std::string sync_progress::shell_failure_message(const process_result& r, const std::string& instance) const {
  return with_stderr_and_log("limactl shell " + instance + " failed (exit " + std::to_string(exit_status(r)) +
                                 ") before the guest program printed anything",
                             r);
}

std::string sync_progress::with_stderr_and_log(std::string message, const process_result& r) const {
  if (std::string err_tail = stderr_tail(r.err, 4); !err_tail.empty()) message += "\n" + err_tail;
  if (has_log()) message += "\nthe whole output: " + log_->path().string();
  return message;
}

// What comes after a recipe without a start marker (a skipped recipe's dvm_every_sync, which
// is marked only when it is done) is timed and quoted from here.
void sync_progress::next_step() {
  step_started_ = clock::now();
  recent_.clear();
}

std::string sync_progress::recent_lines() const {
  std::string last;
  for (const auto& l : recent_) last += (last.empty() ? "" : "\n") + l;
  return last;
}

}  // namespace dvm::v0::detail
