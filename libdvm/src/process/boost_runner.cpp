// The default process_runner, on Boost.Process v2 and Boost.Asio. This is the only file that
// includes Boost.Process.
//
// What it guarantees for every child:
//   * argv exactly as given, the environment exactly as given (nothing inherited);
//   * only fds 0-2 (every other descriptor is marked close-on-exec in the child), so a detached
//     Lima host agent can never hold one of our pipes or files open;
//   * default signal dispositions and an empty signal mask (an embedding program such as
//     Python may ignore SIGPIPE; limactl must not inherit that);
//   * unless its stdin is the terminal, its own process group, so a timeout or a cancel kills
//     limactl and everything it started (ssh, scp), and PR_SET_PDEATHSIG so it does not outlive
//     a dvm that is killed outright.
#include <dvm/error.hpp>
#include <dvm/process.hpp>

#include "process/find_program.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dvm::inline v0 {

namespace {

namespace asio = boost::asio;
namespace bp = boost::process::v2;
using clock = std::chrono::steady_clock;

// Every descriptor above 2 is closed by exec: this is the only place that keeps the originals
// of the stdio pipes and /dev/null (and anything an embedder opened) out of limactl and the
// detached host agent. fork_exec_launcher does not use Boost.Process 1.81's own close_range walk,
// which skips the gap between stderr and its error pipe (it compares a whitelist entry with
// itself). Runs in the child after the stdio dup2s.
void mark_fds_cloexec() {
#if defined(__linux__) && defined(CLOSE_RANGE_CLOEXEC)
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  struct rlimit lim {};
  long max = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                 ? static_cast<long>(lim.rlim_cur) : 65536;
  for (int fd = 3; fd < std::min(max, 65536L); ++fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

// Runs in the child between fork and exec: async-signal-safe calls only.
struct child_setup {
  bool own_process_group = true;

  template <class Launcher>
  bp::error_code on_exec_setup(Launcher&, const bp::filesystem::path&, const char* const*) {
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
    mark_fds_cloexec();
    if (own_process_group) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    }
    return {};
  }

  template <class Launcher>
  void on_success(Launcher& launcher, const bp::filesystem::path&, const char* const*) {
    // Also from the parent, so the group exists before we might signal it.
    if (own_process_group && launcher.pid > 0) ::setpgid(launcher.pid, launcher.pid);
  }
};

// Boost.Process 1.81's default_launcher calls io_context::notify_fork() in the child between
// fork and exec, and asio allocates there (it copies its service list into a std::vector). In
// a multithreaded process (sync --all, an embedding program) another thread may hold an
// allocator lock at the moment of the fork; the child then never reaches exec and its parent
// waits forever. Seen with ASan's allocator (`sync --all -j 8` hung, the child spinning in
// operator new under notify_fork). This launcher runs the same initializer hooks (stdio, start
// dir, environment, child_setup) and nothing else between fork and exec. The child needs no
// fork notification: it execs at once, and every descriptor above 2 is close-on-exec.
struct fork_exec_launcher : bp::posix::default_launcher {
  template <class Args, class... Inits>
  bp::process operator()(asio::any_io_executor exec, bp::error_code& ec,
                         const bp::filesystem::path& executable, Args&& args, Inits&&... inits) {
    const char* const* argv = this->build_argv_(executable, std::forward<Args>(args));
    int report[2];  // the child writes errno here if exec fails; a successful exec closes it
    if (::pipe2(report, O_CLOEXEC) != 0) {
      ec.assign(errno, bp::system_category());
      return bp::process(exec);
    }
    auto fail = [&](int err) {
      ::close(report[0]);
      if (report[1] >= 0) ::close(report[1]);
      ec.assign(err, bp::system_category());
      bp::posix::detail::on_error(*this, executable, argv, ec, inits...);
      return bp::process(exec);
    };
    ec = bp::posix::detail::on_setup(*this, executable, argv, inits...);
    if (ec) return fail(ec.value());
    pid = ::fork();
    if (pid == -1) return fail(errno);
    if (pid == 0) {
      // The child: async-signal-safe calls only, no allocation, no exit handlers.
      int err = 0;
      bp::error_code setup_ec = bp::posix::detail::on_exec_setup(*this, executable, argv, inits...);
      if (setup_ec) {
        err = setup_ec.value();
      } else {
        ::execve(executable.c_str(), const_cast<char* const*>(argv), const_cast<char* const*>(env));
        err = errno;
      }
      [[maybe_unused]] ssize_t n = ::write(report[1], &err, sizeof err);
      ::_exit(127);
    }
    ::close(report[1]);
    report[1] = -1;
    int child_errno = 0;
    ssize_t got;
    while ((got = ::read(report[0], &child_errno, sizeof child_errno)) == -1 && errno == EINTR) {
    }
    if (got != 0) {  // exec failed (or the report pipe did): reap the child, report its errno
      const int err = got > 0 ? child_errno : errno;
      ::waitpid(pid, nullptr, 0);
      pid = -1;
      return fail(err);
    }
    ::close(report[0]);
    bp::process proc(exec, pid);
    bp::posix::detail::on_success(*this, executable, argv, inits...);
    return proc;
  }
};

// Blocks SIGPIPE in this thread while a child's stdin is written: a child that exits without
// reading its stdin must not kill dvm. A SIGPIPE raised meanwhile is consumed before the mask
// is restored.
class sigpipe_guard {
 public:
  sigpipe_guard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~sigpipe_guard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero {};
    while (::sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t old_{};
};

// Bindings are built in place (returned as prvalues): copying one would close its fd twice.
bp::detail::process_input_binding input_binding(stdio_mode mode, asio::writable_pipe& pipe) {
  if (mode == stdio_mode::pipe) return bp::detail::process_input_binding(pipe);
  if (mode == stdio_mode::null) return bp::detail::process_input_binding(bp::filesystem::path("/dev/null"));
  return bp::detail::process_input_binding();
}

template <class Binding>
Binding output_binding(stdio_mode mode, asio::readable_pipe& pipe) {
  if (mode == stdio_mode::pipe) return Binding(pipe);
  if (mode == stdio_mode::null) return Binding(bp::filesystem::path("/dev/null"));
  return Binding();
}

using stream_buffer = std::array<char, 16384>;

// One child from start to reaping: the io_context, the pipes, and the one timer that watches
// the deadline, the cancel token and, after exit, how long a grandchild may keep our pipes
// open. Members are destroyed in reverse order: the process handle before the pipes and ctx_.
class child_run {
 public:
  child_run(const process_spec& spec, process_result& result)
      : spec_(spec), result_(result), setup_{spec.stdin_mode != stdio_mode::inherit} {}
  child_run(const child_run&) = delete;
  child_run& operator=(const child_run&) = delete;

  bool spawn(const std::string& program);  // false: result_ says why
  void feed_stdin(std::span<const char> input);
  void start_readers();
  void watch_exit();
  void run_until_done();
  void collect_exit_status();

 private:
  void read_stream(asio::readable_pipe& pipe, stream_buffer& buffer, std::string& sink,
                   const std::function<void(std::string_view)>& on_chunk);
  void maybe_done();
  void tick();
  void terminate(bool timed_out);
  void kill_hung_child();
  void give_up_on_pipes(clock::time_point now);

  const process_spec& spec_;
  process_result& result_;
  asio::io_context ctx_;
  asio::writable_pipe stdin_pipe_{ctx_};
  asio::readable_pipe stdout_pipe_{ctx_};
  asio::readable_pipe stderr_pipe_{ctx_};
  child_setup setup_;
  clock::time_point started_{};
  std::optional<bp::process> child_;
  pid_t pid_ = -1;
  stream_buffer out_buffer_{};
  stream_buffer err_buffer_{};
  int open_streams_ = 0;
  bool exited_ = false;
  std::optional<clock::time_point> finished_at_;
  // The ticker (deadline, cancel, kill) must not keep ctx_.run() waiting once everything is
  // done: that would add up to one tick to every call.
  asio::steady_timer ticker_{ctx_};
  std::optional<clock::time_point> deadline_;
  std::optional<clock::time_point> kill_at_;        // SIGKILL after a grace period
  std::optional<clock::time_point> pipes_give_up_;  // after exit
  bool signalled_ = false;
};

bool child_run::spawn(const std::string& program) {
  std::vector<std::string> args(spec_.argv.begin() + 1, spec_.argv.end());
  std::filesystem::path workdir = spec_.working_directory.empty() ? std::filesystem::path("/")
                                                                  : spec_.working_directory;
  started_ = clock::now();
  // The stdio bindings are temporaries: they close the child's ends of the pipes in this
  // process as soon as the child has started, so EOF arrives when the child exits.
  bp::error_code ec;
  child_.emplace(fork_exec_launcher{}(
      ctx_.get_executor(), ec, program, args,
      bp::process_stdio{input_binding(spec_.stdin_mode, stdin_pipe_),
                        output_binding<bp::detail::process_output_binding>(spec_.stdout_mode, stdout_pipe_),
                        output_binding<bp::detail::process_error_binding>(spec_.stderr_mode, stderr_pipe_)},
      bp::process_environment(spec_.environment), bp::process_start_dir(workdir.string()), setup_));
  if (ec) {
    result_.start_failed = true;
    result_.err = spec_.argv[0] + ": cannot be started: " + ec.message();
    return false;
  }
  pid_ = child_->id();
  return true;
}

// stdin: write the payload, then close so the child sees EOF. The payload goes only into the
// pipe (secrets never reach argv, the environment or a file).
void child_run::feed_stdin(std::span<const char> input) {
  if (spec_.stdin_mode != stdio_mode::pipe) return;
  if (input.empty()) {
    stdin_pipe_.close();
    return;
  }
  asio::async_write(stdin_pipe_, asio::buffer(input.data(), input.size()),
                    [this](const bp::error_code&, std::size_t) {
                      bp::error_code ignored;
                      stdin_pipe_.close(ignored);
                    });
}

void child_run::read_stream(asio::readable_pipe& pipe, stream_buffer& buffer, std::string& sink,
                            const std::function<void(std::string_view)>& on_chunk) {
  pipe.async_read_some(asio::buffer(buffer), [this, &pipe, &buffer, &sink, &on_chunk](
                                                 const bp::error_code& ec, std::size_t n) {
    if (n > 0) {
      std::string_view chunk(buffer.data(), n);
      sink.append(chunk);
      if (on_chunk) on_chunk(chunk);
    }
    if (ec) {
      --open_streams_;
      maybe_done();
      return;
    }
    read_stream(pipe, buffer, sink, on_chunk);
  });
}

void child_run::start_readers() {
  if (spec_.stdout_mode == stdio_mode::pipe) {
    ++open_streams_;
    read_stream(stdout_pipe_, out_buffer_, result_.out, spec_.on_stdout);
  }
  if (spec_.stderr_mode == stdio_mode::pipe) {
    ++open_streams_;
    read_stream(stderr_pipe_, err_buffer_, result_.err, spec_.on_stderr);
  }
}

void child_run::watch_exit() {
  child_->async_wait([this](const bp::error_code&, int) {
    exited_ = true;
    finished_at_ = clock::now();
    maybe_done();
  });
}

void child_run::maybe_done() {
  if (exited_ && open_streams_ <= 0) ticker_.cancel();
}

void child_run::terminate(bool timed_out) {
  if (signalled_) return;
  signalled_ = true;
  (timed_out ? result_.timed_out : result_.cancelled) = true;
  if (setup_.own_process_group) {
    ::kill(-pid_, SIGTERM);
  } else {
    ::kill(pid_, SIGTERM);
  }
  kill_at_ = clock::now() + std::chrono::seconds(3);
}

void child_run::kill_hung_child() {
  if (setup_.own_process_group) ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  kill_at_.reset();
}

// The child has exited but something (a grandchild) still holds our pipes open.
void child_run::give_up_on_pipes(clock::time_point now) {
  if (!pipes_give_up_) pipes_give_up_ = now + std::chrono::seconds(2);
  if (now >= *pipes_give_up_ || signalled_) {
    bp::error_code ignored;
    stdout_pipe_.close(ignored);
    stderr_pipe_.close(ignored);
  }
}

void child_run::tick() {
  auto now = clock::now();
  if (!exited_) {
    if (deadline_ && now >= *deadline_) terminate(true);
    if (spec_.cancel != nullptr && spec_.cancel->requested()) terminate(false);
    if (kill_at_ && now >= *kill_at_) kill_hung_child();
  } else if (open_streams_ > 0) {
    give_up_on_pipes(now);
  }
  if (exited_ && open_streams_ <= 0) return;
  ticker_.expires_after(std::chrono::milliseconds(20));
  ticker_.async_wait([this](const bp::error_code& ec) {
    if (!ec) tick();
  });
}

void child_run::run_until_done() {
  if (spec_.timeout.count() > 0) deadline_ = started_ + spec_.timeout;
  tick();
  ctx_.run();
  // Kill anything the child left in its process group (it is ours to clean up).
  if (setup_.own_process_group && signalled_) ::kill(-pid_, SIGKILL);
}

void child_run::collect_exit_status() {
  result_.elapsed = finished_at_.value_or(clock::now()) - started_;
  int status = child_->native_exit_code();
  if (WIFEXITED(status)) {
    result_.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result_.term_signal = WTERMSIG(status);
    result_.exit_code = -1;
  }
}

class boost_runner final : public process_runner {
 public:
  process_result run(const process_spec& spec) override;
};

process_result boost_runner::run(const process_spec& spec) {
  process_result result;
  if (spec.argv.empty()) throw error(errc::internal, "process_runner: empty argv");
  auto program = detail::find_program(spec.argv[0], spec.environment);
  if (!program) {
    result.start_failed = true;
    result.err = spec.argv[0] + ": not found on PATH";
    return result;
  }

  sigpipe_guard no_sigpipe;
  child_run child(spec, result);
  if (!child.spawn(*program)) return result;
  std::span<const char> input;
  if (spec.stdin_mode == stdio_mode::pipe && spec.input != nullptr) input = bytes_of(*spec.input);
  child.feed_stdin(input);
  child.start_readers();
  child.watch_exit();
  child.run_until_done();
  child.collect_exit_status();
  return result;
}

}  // namespace

std::shared_ptr<process_runner> make_default_runner() { return std::make_shared<boost_runner>(); }

namespace detail {

std::optional<std::string> find_program(const std::string& name, const std::vector<std::string>& environment) {
  if (name.find('/') != std::string::npos) return name;
  if (name.empty()) return std::nullopt;
  std::vector<bp::environment::key_value_pair_view> view(environment.begin(), environment.end());
  std::string found = bp::environment::find_executable(name, view).string();
  if (found.empty()) return std::nullopt;
  // An empty PATH entry yields the bare name: make it a path, so that exec does not search.
  if (found.find('/') == std::string::npos) found = "./" + found;
  return found;
}

}  // namespace detail

}  // namespace dvm::v0
