#include "progress.hpp"

#include "output.hpp"
#include "style.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <iostream>

#include <sys/ioctl.h>
#include <unistd.h>

namespace dvm_cli {

namespace {
std::size_t terminal_width() {
  struct winsize ws {};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

// Terminal control characters in guest output must not reach the terminal as commands.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

// Room for `text` on the live line after a prefix of `used` columns.
std::string fit(std::string text, std::size_t used) {
  std::size_t width = terminal_width();
  std::size_t room = width - std::min<std::size_t>(width - 1, used);
  if (text.size() > room) text.resize(room);
  return text;
}

std::string argv_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}
}  // namespace

std::string seconds_text(std::chrono::milliseconds d) {
  char buffer[32];
  if (d.count() < 1000) {
    std::snprintf(buffer, sizeof buffer, "%lld ms", static_cast<long long>(d.count()));
  } else {
    std::snprintf(buffer, sizeof buffer, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  }
  return buffer;
}

void progress_view::operator()(const dvm::event& e) {
  switch (style_) {
    case style::live: live(e); break;
    case style::plain: plain(e); break;
    case style::json: json(e); break;
  }
}

void progress_view::json(const dvm::event& e) {
  boost::json::object o{{"schema", json_schema}};
  for (auto& [k, v] : to_json(e)) o[k] = std::move(v);
  json_out_ << boost::json::serialize(o) << '\n' << std::flush;
}

void progress_view::plain(const dvm::event& e) {
  using k = dvm::event_kind;
  std::string p = e.vm.empty() ? "dvm: " : e.vm + ": ";
  switch (e.kind) {
    case k::limactl_started:
      if (verbose_) std::cerr << p << "$ " << argv_text(e.argv) << '\n';
      return;
    case k::limactl_finished:
      if (verbose_) {
        std::cerr << p << "  exit " << e.exit_code << " after " << seconds_text(e.duration) << '\n';
      }
      return;
    case k::vm_creating:
    case k::vm_starting:
    case k::vm_stopping:
    case k::vm_deleting:
      std::cerr << p << e.message << '\n';
      return;
    case k::vm_reconciling:
      std::cerr << p << e.message << " (the VM restarts)\n";
      return;
    case k::lima_progress:
      std::cerr << p << "limactl " << e.name << ": " << printable(e.message) << '\n';
      return;
    case k::recipe_started:
      std::cerr << p << "recipe " << e.name << " started\n";
      return;
    case k::recipe_finished:
      std::cerr << p << "recipe " << e.name << " finished (" << seconds_text(e.duration) << ")\n";
      return;
    case k::recipe_skipped:
      std::cerr << p << "\xe2\x80\x93 " << e.name << " (unchanged)\n";  // –
      return;
    case k::recipe_failed:
      std::cerr << p << e.name << ' ' << paint(STDERR_FILENO, colour::red, "failed") << " (exit " << e.exit_code
                << ", " << seconds_text(e.duration) << ")\n";
      return;
    case k::hook_started:
      std::cerr << p << "project hook " << e.name << " started\n";
      return;
    case k::output:
      std::cerr << p << "| " << printable(e.message) << '\n';
      return;
    case k::warning:
      std::cerr << "dvm: warning: " << (e.vm.empty() ? "" : e.vm + ": ") << e.message << '\n';
      return;
    case k::guest_started:
    case k::sync_finished:
      return;
  }
}

void progress_view::close_line() {
  if (line_open_) std::cerr << "\r\033[K";
  line_open_ = false;
  lima_step_open_ = false;
}

// A first boot takes minutes: the limactl call's elapsed time and Lima's latest line, dimmed.
void progress_view::show_lima_progress(const dvm::event& e) {
  if (!lima_step_open_) close_line();
  open_step_ = "limactl " + e.name;
  std::string elapsed = seconds_text(e.duration);
  std::cerr << "\r\033[K  \xe2\x96\xb8 " << open_step_ << "  " << elapsed << "  "
            << paint(STDERR_FILENO, colour::dim, fit(printable(e.message), open_step_.size() + elapsed.size() + 10))
            << std::flush;
  line_open_ = lima_step_open_ = true;
}

// The limactl call whose progress was shown ended: its line stays, with how it ended.
void progress_view::finish_lima_step(const dvm::event& e) {
  std::string step = open_step_;
  close_line();
  bool ok = e.exit_code == 0;
  std::cerr << "  " << paint(STDERR_FILENO, ok ? colour::green : colour::red, (ok ? "\xe2\x9c\x93 " : "\xe2\x9c\x97 ") + step)
            << "  " << seconds_text(e.duration) << '\n';
}

void progress_view::live(const dvm::event& e) {
  using k = dvm::event_kind;
  switch (e.kind) {
    case k::recipe_started:
    case k::hook_started:
      close_line();
      open_step_ = e.name;
      std::cerr << "  \xe2\x96\xb8 " << e.name << std::flush;  // ▸
      line_open_ = true;
      return;
    case k::output:
      if (line_open_ && !lima_step_open_) {
        std::cerr << "\r\033[K  \xe2\x96\xb8 " << open_step_ << "  "
                  << paint(STDERR_FILENO, colour::dim, fit(printable(e.message), open_step_.size() + 8)) << std::flush;
      }
      return;
    case k::lima_progress:
      show_lima_progress(e);
      return;
    case k::recipe_finished:
      close_line();
      std::cerr << "  " << paint(STDERR_FILENO, colour::green, "\xe2\x9c\x93 " + e.name) << "  "
                << seconds_text(e.duration) << '\n';  // ✓
      return;
    case k::recipe_skipped:
      close_line();
      std::cerr << "  " << paint(STDERR_FILENO, colour::dim, "\xe2\x80\x93 " + e.name + " (unchanged)") << '\n';  // –
      return;
    case k::recipe_failed: {
      close_line();
      std::cerr << "  " << paint(STDERR_FILENO, colour::red, "\xe2\x9c\x97 " + e.name) << "  failed (exit "
                << e.exit_code << ", " << seconds_text(e.duration) << ")\n";  // ✗
      std::size_t pos = 0;
      while (pos < e.message.size()) {
        std::size_t end = e.message.find('\n', pos);
        std::cerr << "      " << printable(e.message.substr(pos, end == std::string::npos ? end : end - pos)) << '\n';
        if (end == std::string::npos) break;
        pos = end + 1;
      }
      return;
    }
    case k::limactl_started:
    case k::limactl_finished:
      if (e.kind == k::limactl_finished && lima_step_open_) finish_lima_step(e);
      if (verbose_) {
        close_line();
        plain(e);
      }
      return;
    case k::warning:
    case k::vm_creating:
    case k::vm_starting:
    case k::vm_stopping:
    case k::vm_deleting:
    case k::vm_reconciling:
      close_line();
      plain(e);
      return;
    case k::guest_started:
    case k::sync_finished:
      close_line();
      return;
  }
}

}  // namespace dvm_cli
