// The C++ model of the guest's secret reader (secret_frames.hpp) against the real Bash function
// __dvm_read_secrets, taken from a program that build_sync_program() builds: on each input both
// must agree on success or the failure, on the files and on what is left of the stream.
#include "secret_frames.hpp"

#include <dvm/config.hpp>
#include <dvm/process.hpp>
#include <dvm/recipes.hpp>
#include <dvm/secret.hpp>

#include "guest/program.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {

struct peek : dvm::process_runner {
  dvm::process_result run(const dvm::process_spec&) override { return {}; }
  static std::string bytes(const dvm::stdin_payload& payload) {
    auto b = bytes_of(payload);
    return {b.data(), b.size()};
  }
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The Bash function exactly as the guest program defines it.
std::string guest_reader_function() {
  dvm::vm_config vm;
  vm.name = "app";
  vm.user = "alice";
  vm.code_dir = "~/code/app";
  vm.baseline = false;
  dvm::secret value(std::string_view("x"));
  dvm::stdin_payload p = dvm::detail::build_sync_program(vm, dvm::recipe_catalog(), {{"A", &value}}, "n0nce");
  std::string text = peek::bytes(p);
  std::size_t begin = text.find("\n__dvm_read_secrets() {\n");
  REQUIRE(begin != std::string::npos);
  std::size_t end = text.find("\n}\n", begin + 1);
  REQUIRE(end != std::string::npos);
  return text.substr(begin + 1, end + 3 - (begin + 1));
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("dvm-frames-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct bash_result {
  bool ok = false;
  std::string error;
  std::map<std::string, std::string> files;
  std::string rest;
};

// Runs the function in Bash with the stream on a pipe, as in the guest: sudo and install's
// owner options are stubbed, /run/dvm-secrets is a temporary directory, no watchdog.
bash_result run_bash(const std::string& function, std::string_view stream, unsigned long count) {
  temp_dir dir;
  std::string fn = function;
  const std::string run = "/run/dvm-secrets";
  const std::string fake_run = (dir.path / "run" / "dvm-secrets").string();
  for (std::size_t at = fn.find(run); at != std::string::npos; at = fn.find(run, at + fake_run.size())) {
    fn.replace(at, run.size(), fake_run);
  }
  std::string harness =
      "set -euo pipefail\n"
      "out=$1\n"
      "sudo() { if [ \"$1\" = -n ]; then shift; fi; \"$@\"; }\n"
      "install() {\n"
      "  local args=()\n"
      "  while [ $# -gt 0 ]; do case $1 in -o | -g) shift 2 ;; *) args+=(\"$1\"); shift ;; esac; done\n"
      "  command install \"${args[@]}\"\n"
      "}\n"
      "__dvm_watchdog() { :; }\n" +
      fn +
      "__dvm_read_secrets \"$2\"\n"
      "printf '%s' \"$__dvm_secret_dir\" >\"$out/dir\"\n"
      "cat >\"$out/rest\"\n";
  write_bytes(dir.path / "harness.sh", harness);
  write_bytes(dir.path / "stream", stream);
  fs::create_directories(dir.path / "out");
  std::string q = dir.path.string();
  std::string cmd = "cat '" + q + "/stream' | bash '" + q + "/harness.sh' '" + q + "/out' " +
                    std::to_string(count) + " 2>'" + q + "/err'";
  int status = std::system(cmd.c_str());
  bash_result r;
  r.ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.error = read_bytes(dir.path / "err");
  if (r.ok) {
    fs::path secrets = read_bytes(dir.path / "out" / "dir");
    for (const auto& e : fs::directory_iterator(secrets)) {
      r.files[e.path().filename().string()] = read_bytes(e.path());
    }
    r.rest = read_bytes(dir.path / "out" / "rest");
  }
  return r;
}

}  // namespace

TEST_CASE("fuzz: the C++ secret reader behaves exactly like the guest's Bash function") {
  const std::string function = guest_reader_function();
  using namespace std::string_literals;
  struct sample {
    std::string stream;
    unsigned long count;
  };
  const std::vector<sample> samples = {
      {"A 3\nabc\nexec 2>&1\n", 1},
      {"A 3\nabcREST", 1},
      {"   A   3   \nabc\nrest", 1},
      {"A 003\nabc", 1},
      {"A 0\nB 2\nxy\n", 2},
      {"A 2\nxyA 1\nz\n", 2},  // the same name twice: the second replaces the first
      {"1A_ 1\nx", 1},
      {"A\0 3\nab\0"s, 1},     // NUL in the frame line is dropped by read
      {"A 5\n\n\0\xff\n\n"s, 1},
      {"", 0},
      {"A 3\nab", 1},          // incomplete
      {"A 3", 1},              // no end of line
      {"", 1},
      {"A 1\nx", 2},
      {"A\t3\nabc", 1},        // only spaces separate
      {"a 3\nabc", 1},
      {"A-B 3\nabc", 1},
      {"A 3 x\nabc", 1},
      {"A 3\\\nabc", 1},
      {"A 3\r\nabc", 1},
      {"A -1\nx", 1},
      {"A +1\nx", 1},
      {" \nx", 1},
      {"A\nx", 1},
      {"A  \nabc", 1},
      {"\xc3\x84 1\nx", 1},
  };
  for (const auto& s : samples) {
    INFO("stream: \"" << s.stream << "\", count " << s.count);
    dvm_fuzz::frames_read model = dvm_fuzz::read_secret_frames(s.stream, s.count);
    bash_result bash = run_bash(function, s.stream, s.count);
    CHECK(model.ok == bash.ok);
    if (model.ok && bash.ok) {
      CHECK(model.files == bash.files);
      CHECK(std::string_view(s.stream).substr(model.consumed) == bash.rest);
    } else if (!model.ok && !bash.ok) {
      INFO("bash: " << bash.error);
      const std::map<std::string, std::string> message = {
          {"ended early", "the secrets ended early"},
          {"bad frame", "bad secret frame"},
          {"incomplete", "arrived incomplete"}};
      REQUIRE(message.count(model.error) == 1);
      CHECK(bash.error.find(message.at(model.error)) != std::string::npos);
    }
  }
}
