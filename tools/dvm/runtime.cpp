// Shared by every command: signals, the client and its event display, DVM_TIMEOUT.
#include "cli.hpp"

#include <dvm/error.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <unistd.h>

namespace dvm_cli {

namespace {

// Ctrl-C / SIGTERM: the running limactl call is stopped through the cancel token, and dvm exits
// with 128 + the signal once the library has unwound (locks released, guest cleaned up).
dvm::cancel_token g_cancel;
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  g_signal = sig;
  g_cancel.request();
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return so the cancel is seen promptly
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

int exit_code_after_signal(int code) { return g_signal != 0 ? 128 + g_signal : code; }

bool interrupted_by(int sig) { return g_signal == sig; }

void add_passthrough(CLI::App& app, std::vector<std::string>& words, const char* name, const char* help) {
  app.add_option(name, words, help);
  app.positionals_at_end();
}

std::vector<std::string> without_separator(std::vector<std::string> words) {
  if (!words.empty() && words.front() == "--") words.erase(words.begin());
  return words;
}

std::string examples(std::initializer_list<const char*> lines) {
  std::string out = lines.size() == 1 ? "Example:\n" : "Examples:\n";
  for (const char* l : lines) out += std::string("  ") + l + "\n";
  return out;
}

progress_view::style progress_style(const cli_state& state, bool single_vm) {
  if (output(state).machine_readable()) return progress_view::style::json;
  const char* term = std::getenv("TERM");
  if (single_vm && ::isatty(STDERR_FILENO) != 0 && term != nullptr && std::string_view(term) != "dumb") {
    return progress_view::style::live;
  }
  return progress_view::style::plain;
}

dvm::client make_client(const cli_state& state, progress_view* view) {
  dvm::client_options options;
  options.cancel = &g_cancel;
  if (view == nullptr) {
    // Commands without a progress display of their own: warnings and VM state changes on
    // stderr; with --verbose every limactl call too (as JSON lines on stderr with --json, so
    // stdout keeps its one document).
    static progress_view side(output(state).machine_readable() ? progress_view::style::json : progress_view::style::plain,
                              state.verbose, std::cerr);
    if (!output(state).machine_readable() || state.verbose) view = &side;
  }
  if (view != nullptr) options.on_event = [view](const dvm::event& e) { (*view)(e); };
  // DVM_TIMEOUT caps every limactl time limit (tests and CI use it).
  if (state.timeout_cap) {
    for (const auto& field : dvm::timeouts::fields()) {
      auto& limit = options.timeouts.*field.member;
      limit = std::min(limit, *state.timeout_cap);
    }
  }
  return dvm::client(std::move(options));
}

}  // namespace dvm_cli
