// Reading what limactl prints: logrus records (logfmt or JSON lines), Go-quoted strings, the
// stderr tail an error carries, progress relayed as events, and `limactl --version`.
#include "lima/limactl_output.hpp"

#include "text/lines.hpp"
#include "text/utf8.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <regex>

namespace dvm::inline v0::detail {

namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One logfmt value starting at text[i]: a Go-quoted string or a bare word. Advances i past it.
std::string logfmt_value(std::string_view text, std::size_t& i) {
  if (i >= text.size() || text[i] != '"') {
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string value(text.substr(i, end - i));
    i = end;
    return value;
  }
  std::size_t end = ++i;
  while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? std::size_t{2} : std::size_t{1};
  std::string value = go_unquote(text.substr(i, std::min(end, text.size()) - i));
  i = std::min(end + 1, text.size());
  return value;
}

}  // namespace

std::string go_unquote(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    char c = body[++i];
    // \xhh, \uhhhh, \Uhhhhhhhh: exactly `digits` hex digits after the letter.
    auto hex_run = [&](std::size_t digits) -> std::optional<std::uint32_t> {
      std::uint32_t v = 0;
      for (std::size_t k = 1; k <= digits; ++k) {
        int d = i + k < body.size() ? hex_digit(body[i + k]) : -1;
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<std::uint32_t>(d);
      }
      i += digits;
      return v;
    };
    switch (c) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
        if (auto v = hex_run(2)) {
          out += static_cast<char>(*v);  // a raw byte, as Go's \x
        } else {
          out += "\\x";
        }
        break;
      case 'u':
      case 'U':
        if (auto v = hex_run(c == 'u' ? 4 : 8)) {
          append_utf8(out, *v);
        } else {
          out += '\\';
          out += c;
        }
        break;
      default:
        if (c >= '0' && c <= '7' && i + 2 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7' &&
            body[i + 2] >= '0' && body[i + 2] <= '7') {
          out += static_cast<char>(((c - '0') << 6) | ((body[i + 1] - '0') << 3) | (body[i + 2] - '0'));
          i += 2;
        } else {
          out += c;  // \" \\ \' and anything Go would not write
        }
    }
  }
  return out;
}

std::optional<log_record> parse_log_record(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  log_record record;
  bool has_msg = false;
  if (line.front() == '{') {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    if (const auto* msg = o.if_contains("msg"); msg && msg->is_string()) {
      record.msg = msg->as_string();
      has_msg = true;
    }
    if (const auto* lv = o.if_contains("level"); lv && lv->is_string()) record.level = lv->as_string();
    return has_msg ? std::optional(record) : std::nullopt;
  }
  // logrus's TextFormatter: key=value pairs, values Go-quoted (%q) when they need it;
  // time, level and msg come first (github.com/sirupsen/logrus, text_formatter.go).
  std::size_t i = 0;
  while (i < line.size()) {
    std::size_t eq = line.find('=', i);
    if (eq == std::string_view::npos || eq == i) return std::nullopt;
    std::string_view key = line.substr(i, eq - i);
    if (key.find(' ') != std::string_view::npos || key.find('"') != std::string_view::npos) return std::nullopt;
    i = eq + 1;
    std::string value = logfmt_value(line, i);
    if (key == "msg" && !has_msg) {
      record.msg = std::move(value);
      has_msg = true;
    } else if (key == "level" && record.level.empty()) {
      record.level = std::move(value);
    }
    while (i < line.size() && line[i] == ' ') ++i;
  }
  return has_msg ? std::optional(record) : std::nullopt;
}

std::optional<std::string> parse_limactl_version(std::string_view output) {
  static const std::regex pattern(R"((\d+)\.(\d+)\.(\d+))");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(output.begin(), output.end(), m, pattern)) return std::nullopt;
  return m.str(0);
}

bool version_at_least(std::string_view version, std::string_view minimum) {
  auto parts = [](std::string_view v) {
    std::array<long, 3> out{0, 0, 0};
    std::size_t i = 0;
    for (long& part : out) {
      while (i < v.size() && v[i] >= '0' && v[i] <= '9') part = part * 10 + (v[i++] - '0');
      if (i < v.size() && v[i] == '.') ++i;
    }
    return out;
  };
  return parts(version) >= parts(minimum);
}

std::string stderr_tail(std::string_view text, std::size_t max_lines) {
  std::vector<std::string> all;
  std::vector<std::string> problems;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    std::string message(line);
    std::string level;
    if (auto record = parse_log_record(line)) {
      message = std::move(record->msg);
      level = std::move(record->level);
    }
    if (level == "fatal" || level == "error" || level == "warning") problems.push_back(message);
    all.push_back(std::move(message));
  }
  return join_last(problems.empty() ? all : problems, max_lines);
}

progress_relay::progress_relay(const std::function<void(event)>& emit, std::string vm,
                               std::string subcommand)
    : emit_(emit), vm_(std::move(vm)), subcommand_(std::move(subcommand)),
      started_(std::chrono::steady_clock::now()) {}

std::function<void(std::string_view)> progress_relay::sink() {
  return [this](std::string_view chunk) { feed(chunk); };
}

void progress_relay::finish(bool succeeded) {
  if (!partial_.empty()) line(partial_);
  partial_.clear();
  if (!succeeded || !emit_) return;
  for (auto& w : warnings_) {
    emit_(event{event_kind::warning, vm_, subcommand_, {}, 0, {}, "limactl " + subcommand_ + ": " + w});
  }
  warnings_.clear();
}

void progress_relay::feed(std::string_view chunk) {
  partial_.append(chunk);
  std::size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    line(std::string_view(partial_).substr(0, nl));
    partial_.erase(0, nl + 1);
  }
  // A line without an end is not a progress line; keep memory bounded.
  if (partial_.size() > 65536) partial_.clear();
}

void progress_relay::line(std::string_view text) {
  auto record = parse_log_record(text);
  if (!record || record->msg.empty()) return;
  if (record->level == "info") {
    if (emit_) {
      emit_(event{event_kind::lima_progress, vm_, subcommand_, {}, 0,
                  std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started_),
                  std::move(record->msg)});
    }
  } else if (record->level == "warning" || record->level == "warn" || record->level == "error") {
    warnings_.push_back(std::move(record->msg));
  }
}

}  // namespace dvm::v0::detail
