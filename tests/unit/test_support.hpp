// Helpers for libdvm's unit tests: temporary config trees and a recording fake process runner.
#pragma once

#include <dvm/config.hpp>
#include <dvm/process.hpp>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace dvm_test {

namespace fs = std::filesystem;

/// A temporary directory removed at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("dvm-unit-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Host facts that do not depend on the machine running the tests.
inline dvm::host_info test_host() {
  dvm::host_info h;
  h.os = "linux";
  h.arch = "x86_64";
  h.cpus = 8;
  h.memory_bytes = 16ULL << 30;
  h.login_name = "alice";
  return h;
}

/// A config dir with optional config.toml and VM files; loads VMs with test_host().
class config_tree {
 public:
  config_tree() = default;
  void global(const std::string& text) { write_file(dir_.path() / "config.toml", text); }
  void vm(const std::string& name, const std::string& text) {
    write_file(dir_.path() / "vms" / (name + ".toml"), text);
  }
  void recipe(const std::string& name, const std::string& text) {
    write_file(dir_.path() / "recipes" / (name + ".sh"), text);
  }
  dvm::config_store store() const {
    return dvm::config_store({dir_.path(), dir_.path() / "state"}, test_host());
  }
  dvm::vm_config load(const std::string& name) const { return store().load(name); }
  const fs::path& path() const { return dir_.path(); }

 private:
  temp_dir dir_;
};

/// One call the fake runner received.
struct recorded_call {
  std::vector<std::string> argv;
  std::vector<std::string> environment;
  std::string stdin_bytes;     ///< what was written to stdin (for assertions in tests only)
  std::string stdin_redacted;  ///< the same with secrets replaced
  dvm::stdio_mode stdin_mode;
  std::filesystem::path working_directory;
  std::chrono::milliseconds timeout;
};

/// Records every call and answers from a script of responses (default: exit 0, no output).
class fake_runner final : public dvm::process_runner {
 public:
  using responder = std::function<dvm::process_result(const recorded_call&)>;

  dvm::process_result run(const dvm::process_spec& spec) override {
    recorded_call call;
    call.argv = spec.argv;
    call.environment = spec.environment;
    if (spec.input != nullptr) {
      auto bytes = bytes_of(*spec.input);
      call.stdin_bytes.assign(bytes.data(), bytes.size());
      call.stdin_redacted = spec.input->redacted();
    }
    call.stdin_mode = spec.stdin_mode;
    call.working_directory = spec.working_directory;
    call.timeout = spec.timeout;
    std::lock_guard<std::mutex> lock(mutex_);
    calls.push_back(call);
    dvm::process_result result;
    result.exit_code = 0;
    if (!responses.empty()) {
      result = responses.front()(call);
      responses.pop_front();
    } else if (fallback) {
      result = fallback(call);
    }
    if (spec.on_stdout && !result.out.empty()) spec.on_stdout(result.out);
    if (spec.on_stderr && !result.err.empty()) spec.on_stderr(result.err);
    return result;
  }

  /// Queue a response for the next call.
  void then(responder r) { responses.push_back(std::move(r)); }
  void then_output(int exit_code, std::string out, std::string err = {}) {
    then([=](const recorded_call&) {
      dvm::process_result r;
      r.exit_code = exit_code;
      r.out = out;
      r.err = err;
      return r;
    });
  }

  std::vector<recorded_call> calls;
  std::deque<responder> responses;
  responder fallback;

 private:
  std::mutex mutex_;
};

}  // namespace dvm_test
