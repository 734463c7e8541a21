// The default process runner (Boost.Process): exit status, exact environment, start failures,
// and nothing allocated in a child between fork and exec. A separate executable, because it
// replaces the global operator new (see fork_watch.cpp).
#include "fork_watch.hpp"
#include "test_support.hpp"

#include <dvm/process.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <utility>

#include <sys/stat.h>
#include <sys/wait.h>

namespace {

dvm::process_spec shell(const std::string& script) {
  dvm::process_spec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.environment = {"PATH=/usr/bin:/bin", "ONLY_THIS=1"};
  return spec;
}

// True when this process has no child left to reap (every child was waited for).
bool no_unreaped_children() {
  errno = 0;
  return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

}  // namespace

TEST_CASE("runner: exit status, output and exactly the given environment") {
  auto runner = dvm::make_default_runner();
  dvm::process_result r = runner->run(shell("env | sort; echo oops >&2; exit 7"));
  CHECK(r.exit_code == 7);
  CHECK_FALSE(r.start_failed);
  CHECK(r.err == "oops\n");
  CHECK(r.out.find("ONLY_THIS=1\n") != std::string::npos);
  CHECK(r.out.find("HOME=") == std::string::npos);  // nothing inherited from this process
  CHECK(no_unreaped_children());
}

TEST_CASE("runner: a program that cannot be executed is a start failure, and leaves no child") {
  dvm_test::temp_dir dir;
  auto not_executable = dir.path() / "limactl";
  { std::ofstream(not_executable) << "#!/bin/sh\nexit 0\n"; }
  ::chmod(not_executable.c_str(), 0644);
  auto bad_interpreter = dir.path() / "limactl-bad";
  { std::ofstream(bad_interpreter) << "#!/nonexistent/interpreter\n"; }
  ::chmod(bad_interpreter.c_str(), 0755);

  auto runner = dvm::make_default_runner();
  for (const auto& [program, reason] : {std::pair{not_executable, std::string("Permission denied")},
                                        std::pair{bad_interpreter, std::string("No such file or directory")}}) {
    CAPTURE(program);
    dvm::process_spec spec;
    spec.argv = {program.string(), "--version"};
    spec.environment = {"PATH=/usr/bin:/bin"};
    dvm::process_result r = runner->run(spec);
    CHECK(r.start_failed);
    CHECK(r.err == program.string() + ": cannot be started: " + reason);
    CHECK(no_unreaped_children());
  }
}

// Regression: Boost.Process's own launcher allocates between fork and exec (asio's
// notify_fork copies its service list into a std::vector). In a multithreaded process a child
// forked while another thread held an allocator lock then never reached exec: `sync --all`
// hung under ASan. This executable replaces operator new with one that ends a forked child at
// once (exit 98) if it allocates before exec, so the test fails every time, not once in a
// thousand forks.
TEST_CASE("runner: a child allocates nothing between fork and exec") {
  dvm_test::watch_allocations_in_forked_children();
  auto runner = dvm::make_default_runner();
  for (auto stdin_mode : {dvm::stdio_mode::null, dvm::stdio_mode::pipe}) {
    dvm::process_spec spec = shell("cat; echo started");
    spec.stdin_mode = stdin_mode;
    dvm::stdin_payload input;
    input.append("fed ");
    if (stdin_mode == dvm::stdio_mode::pipe) spec.input = &input;
    dvm::process_result r = runner->run(spec);
    CHECK_MESSAGE(r.exit_code == 0, "the child allocated between fork and exec: " << r.err);
    CHECK(r.out == (stdin_mode == dvm::stdio_mode::pipe ? "fed started\n" : "started\n"));
  }
  CHECK(no_unreaped_children());
}
