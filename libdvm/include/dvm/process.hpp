// The process-runner seam: every limactl call libdvm makes goes through a process_runner that
// is injected into dvm::client. The default runner uses Boost.Process; tests inject a recording
// fake.
#pragma once

#include <dvm/export.hpp>
#include <dvm/secret.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvm::inline v0 {

/// Bytes for a child's stdin: plain text and secrets, in order. Move-only, wiped on
/// destruction. Its bytes can be read only by a process_runner (see process_runner::bytes_of);
/// everyone else gets the redacted() text.
class DVM_EXPORT stdin_payload {
 public:
  stdin_payload() noexcept = default;
  stdin_payload(const stdin_payload&) = delete;
  stdin_payload& operator=(const stdin_payload&) = delete;
  stdin_payload(stdin_payload&& other) noexcept;
  stdin_payload& operator=(stdin_payload&& other) noexcept;
  ~stdin_payload();

  void append(std::string_view text);
  void append(const secret& value);

  std::size_t size() const noexcept { return size_; }
  bool has_secrets() const noexcept { return !secret_ranges_.empty(); }
  /// The payload with every secret replaced by `placeholder`: safe to print or log.
  std::string redacted(std::string_view placeholder = "<redacted>") const;

 private:
  friend class process_runner;
  void reserve(std::size_t capacity);

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>> secret_ranges_;  // (offset, length)
};

/// A flag another thread or a signal handler sets to stop a running child. Setting it is
/// async-signal-safe.
class cancel_token {
 public:
  void request() noexcept { flag_.store(true, std::memory_order_relaxed); }
  bool requested() const noexcept { return flag_.load(std::memory_order_relaxed); }
  void reset() noexcept { flag_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

enum class stdio_mode {
  null,     ///< /dev/null
  pipe,     ///< stdin: the payload; stdout/stderr: captured and streamed to the callbacks
  inherit,  ///< the caller's own descriptor (a terminal for `dvm sh`)
};

/// What to run. Only fds 0-2 are passed to the child, and only `environment`.
struct process_spec {
  std::vector<std::string> argv;         ///< argv[0] is the program (a path or a name on PATH)
  std::vector<std::string> environment;  ///< exact "NAME=value" entries, nothing else is inherited
  /// Empty: "/" for the default runner (dvm::client passes its scratch dir in the state dir).
  std::filesystem::path working_directory;
  std::chrono::milliseconds timeout{0};     ///< 0: no limit; on expiry the child is killed
  stdio_mode stdin_mode = stdio_mode::null;
  const stdin_payload* input = nullptr;  ///< used when stdin_mode == pipe
  stdio_mode stdout_mode = stdio_mode::pipe;
  stdio_mode stderr_mode = stdio_mode::pipe;
  std::function<void(std::string_view)> on_stdout;  ///< chunks as they arrive (pipe mode)
  std::function<void(std::string_view)> on_stderr;
  const cancel_token* cancel = nullptr;  ///< when requested, the child is terminated
};

/// How a child ended, and what it wrote (pipe mode).
struct process_result {
  int exit_code = -1;      ///< the child's exit status; -1 when it did not exit normally
  int term_signal = 0;     ///< the signal that ended it, if any
  bool timed_out = false;  ///< killed because the timeout expired
  bool cancelled = false;  ///< killed because the cancel token was set
  bool start_failed = false;  ///< the program could not be started (not found, not executable)
  std::string out;            ///< captured stdout (pipe mode)
  std::string err;            ///< captured stderr (pipe mode)
  std::chrono::nanoseconds elapsed{0};
};

/// Runs every child process libdvm starts (limactl). Inject one through
/// client_options::runner to record or fake the calls; the default is make_default_runner().
class DVM_EXPORT process_runner {
 public:
  virtual ~process_runner();
  /// Runs the process to completion. Never throws for a child that fails; throws dvm::error
  /// only for a fault of the runner itself.
  virtual process_result run(const process_spec& spec) = 0;

 protected:
  /// The raw bytes of a payload: for runner implementations only, to write to a child's stdin.
  static std::span<const char> bytes_of(const stdin_payload& payload) noexcept;
};

/// The Boost.Process based runner: explicit environment, only fds 0-2 inherited, scratch working
/// directory, timeout, cancellation, streaming output.
DVM_EXPORT std::shared_ptr<process_runner> make_default_runner();

}  // namespace dvm::v0
