#include "lima/driver.hpp"

#include "process/find_program.hpp"
#include "state/files.hpp"

#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

namespace dvm::detail {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

constexpr std::string_view minimum_lima_version = "2.0.0";

bool allowed_variable(std::string_view name) {
  static constexpr std::string_view exact[] = {"PATH", "HOME",   "USER",   "LOGNAME",
                                               "LANG", "TERM",   "TMPDIR", "XDG_CONFIG_HOME"};
  // Lima hands these to the guest (upstream/pkg/cidata/cidata.go:59-80), so that a VM behind a
  // proxy can still install packages.
  static constexpr std::string_view proxies[] = {
      "http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "all_proxy",
      "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "FTP_PROXY", "ALL_PROXY"};
  if (std::find(std::begin(exact), std::end(exact), name) != std::end(exact)) return true;
  if (name.starts_with("LC_")) return true;
  if (std::find(std::begin(proxies), std::end(proxies), name) != std::end(proxies)) return true;
  // Lima's own settings (LIMA_HOME, LIMA_INSTANCE, LIMA_TEMPLATES_PATH, ...), but never one
  // that looks like a secret, and never LIMA_SSH_PORT_FORWARDER: it switches the host agent to
  // the SSH forwarder, which cannot forward UDP (upstream/pkg/hostagent/hostagent.go:954-975,
  // upstream/pkg/hostagent/port.go:90-94), so configured UDP ports would silently stop working.
  return name.starts_with("LIMA_") && name != "LIMA_SSH_PORT_FORWARDER" &&
         !is_secret_looking_name(name);
}

std::string go_duration(milliseconds d) {
  return std::to_string(std::max<long long>(1, d.count() / 1000)) + "s";
}

std::string read_file_tail(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
  std::size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

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

// limactl's logrus lines on stderr, relayed as they arrive: info lines as lima_progress events
// (the image download, the boot requirements, "READY"). Warnings and errors become warning
// events once the call has succeeded; when it fails they are in its error (stderr_tail), and
// shown once. Fatal lines always end the call, so they are only in the error.
class progress_relay {
 public:
  progress_relay(const std::function<void(event)>& emit, std::string vm, std::string subcommand)
      : emit_(emit), vm_(std::move(vm)), subcommand_(std::move(subcommand)),
        started_(std::chrono::steady_clock::now()) {}

  std::function<void(std::string_view)> sink() {
    return [this](std::string_view chunk) { feed(chunk); };
  }

  void finish(bool succeeded) {
    if (!partial_.empty()) line(partial_);
    partial_.clear();
    if (!succeeded || !emit_) return;
    for (auto& w : warnings_) {
      emit_(event{event_kind::warning, vm_, subcommand_, {}, 0, {}, "limactl " + subcommand_ + ": " + w});
    }
    warnings_.clear();
  }

 private:
  void feed(std::string_view chunk) {
    partial_.append(chunk);
    std::size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      line(std::string_view(partial_).substr(0, nl));
      partial_.erase(0, nl + 1);
    }
    // A line without an end is not a progress line; keep memory bounded.
    if (partial_.size() > 65536) partial_.clear();
  }

  void line(std::string_view text) {
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

  const std::function<void(event)>& emit_;
  std::string vm_;
  std::string subcommand_;
  std::chrono::steady_clock::time_point started_;
  std::string partial_;
  std::vector<std::string> warnings_;
};

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

std::vector<std::string> limactl_environment(const std::map<std::string, std::string>& from,
                                             const std::vector<std::string>& pass_env) {
  std::vector<std::string> out;
  for (const auto& [name, value] : from) {
    bool listed = std::find(pass_env.begin(), pass_env.end(), name) != pass_env.end();
    if (allowed_variable(name) || (listed && !is_secret_looking_name(name))) {
      out.push_back(name + "=" + value);
    }
  }
  return out;
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
  const auto& chosen = problems.empty() ? all : problems;
  std::string out;
  std::size_t first = chosen.size() > max_lines ? chosen.size() - max_lines : 0;
  for (std::size_t i = first; i < chosen.size(); ++i) {
    if (!out.empty()) out += '\n';
    out += chosen[i];
  }
  return out;
}

lima_driver::lima_driver(const lima_context& context, std::string vm,
                         std::function<void(event)> emit)
    : context_(context), vm_(std::move(vm)), emit_(std::move(emit)) {}

std::string lima_driver::resolved_limactl() {
  if (resolved_) return *resolved_;
  auto usable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
  };
  const std::string& configured = context_.limactl;
  if (configured.find('/') != std::string::npos) {
    if (!usable(configured)) {
      throw lima_error(errc::lima_missing, "", -1, "",
                       "limactl not found at " + configured + " (from LIMACTL): install Lima 2.0 or newer, or fix LIMACTL");
    }
    resolved_ = configured;
    return *resolved_;
  }
  // limactl's own environment decides, as for every program the runner starts.
  if (auto found = find_program(configured, context_.environment)) {
    resolved_ = *found;
    return *resolved_;
  }
  throw lima_error(errc::lima_missing, "", -1, "",
                   "limactl not found on PATH: install Lima 2.0 or newer (https://lima-vm.io/docs/installation/) or set LIMACTL to its path");
}

process_result lima_driver::run(std::vector<std::string> args, stdio_mode stdin_mode,
                                const stdin_payload* input, milliseconds timeout,
                                stdio_mode stdout_mode, stdio_mode stderr_mode,
                                std::function<void(std::string_view)> on_stdout,
                                std::function<void(std::string_view)> on_stderr) {
  process_spec spec;
  spec.argv.push_back(resolved_limactl());
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.environment = context_.environment;
  // Created 0700 and never a link (state/files.hpp); throws dvm::error(errc::io) otherwise.
  open_state_subdir(context_.scratch_dir.parent_path(), context_.scratch_dir.filename().string());
  spec.working_directory = context_.scratch_dir;
  spec.timeout = timeout;
  spec.stdin_mode = stdin_mode;
  spec.input = input;
  spec.stdout_mode = stdout_mode;
  spec.stderr_mode = stderr_mode;
  spec.on_stdout = std::move(on_stdout);
  spec.on_stderr = std::move(on_stderr);
  spec.cancel = context_.cancel;

  std::vector<std::string> shown = args;
  shown.insert(shown.begin(), "limactl");
  ++calls_;
  if (emit_) emit_(event{event_kind::limactl_started, vm_, args.empty() ? "" : args.front(), shown, 0, {}, {}});
  process_result result = context_.runner->run(spec);
  if (emit_) {
    emit_(event{event_kind::limactl_finished, vm_, args.empty() ? "" : args.front(), shown,
                result.exit_code,
                std::chrono::duration_cast<milliseconds>(result.elapsed), {}});
  }
  const std::string subcommand = args.empty() ? std::string() : args.front();
  if (result.start_failed) {
    throw lima_error(errc::lima_missing, subcommand, -1, result.err,
                     "cannot run limactl: " + result.err);
  }
  if (result.cancelled) throw error(errc::cancelled, "interrupted; limactl " + subcommand + " was stopped");
  if (result.timed_out) {
    throw lima_error(errc::timeout, subcommand, -1, stderr_tail(result.err),
                     "limactl " + subcommand + " did not finish within " +
                         std::to_string(timeout.count() / 1000) + " s and was killed");
  }
  return result;
}

void lima_driver::fail(const std::string& subcommand, const process_result& result,
                       const std::string& what) {
  std::string tail = stderr_tail(result.err);
  std::string message = what + " (limactl " + subcommand + " exited with status " +
                        std::to_string(result.exit_code) + ")";
  if (!tail.empty()) message += ": " + tail;
  throw lima_error(errc::lima_failed, subcommand, result.exit_code, tail, message);
}

std::string lima_driver::version() {
  const std::string program = resolved_limactl();
  struct stat st {};
  ::stat(program.c_str(), &st);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const auto mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  constexpr std::string_view cache_name = "limactl-version.json";

  std::string version;
  json::object cache;
  // Read and written without following links (state/files.hpp): a planted link is refused.
  if (auto text = read_state_file(context_.state_dir, "cache", cache_name)) {
    boost::system::error_code ec;
    json::value v = json::parse(*text, ec);
    if (!ec && v.is_object()) cache = v.as_object();
  }
  if (const auto* entry = cache.if_contains(program); entry && entry->is_object()) {
    const auto& o = entry->as_object();
    const auto* s = o.if_contains("size");
    const auto* m = o.if_contains("mtime_ns");
    const auto* ver = o.if_contains("version");
    if (s && m && ver && ver->is_string() && s->is_number() && m->is_number() &&
        s->to_number<std::uint64_t>() == size && m->to_number<std::int64_t>() == mtime) {
      version = ver->as_string();
    }
  }
  if (version.empty()) {
    process_result r = run({"--version"}, stdio_mode::null, nullptr, context_.timeouts.query);
    auto parsed = parse_limactl_version(r.out);
    if (r.exit_code != 0 || !parsed) {
      throw lima_error(errc::lima_missing, "--version", r.exit_code, stderr_tail(r.err),
                       "cannot determine the version of " + program + " (`limactl --version` printed \"" +
                           std::string(r.out.substr(0, 80)) + "\")");
    }
    version = *parsed;
    cache[program] = json::object{{"size", size}, {"mtime_ns", mtime}, {"version", version}};
    try {
      write_state_file(context_.state_dir, "cache", cache_name, json::serialize(cache) + "\n");
    } catch (const error&) {
      // Only a cache: the next call asks limactl again.
    }
  }
  if (!version_at_least(version, minimum_lima_version)) {
    throw lima_error(errc::lima_version, "--version", 0, "",
                     "limactl " + version + " is too old: dvm needs Lima " +
                         std::string(minimum_lima_version) + " or newer (" + program + ")");
  }
  return version;
}

std::vector<std::string> lima_driver::list_args(std::string_view instance) {
  std::vector<std::string> args{"list", "--json"};
  if (!instance.empty()) args.emplace_back(instance);
  return args;
}

std::optional<instance_info> lima_driver::query(std::string_view instance) {
  process_result r = run(list_args(instance), stdio_mode::null, nullptr, context_.timeouts.query);
  if (r.exit_code != 0) {
    // An unknown name is exit 1 with "No instance matching ..." / "unmatched instances".
    if (r.err.find("No instance matching") != std::string::npos ||
        r.err.find("unmatched instances") != std::string::npos) {
      return std::nullopt;
    }
    fail("list", r, "cannot query Lima instance " + std::string(instance));
  }
  for (auto& info : parse_list_json(r.out)) {
    if (info.name == instance) return std::move(info);
  }
  return std::nullopt;
}

std::vector<instance_info> lima_driver::list() {
  process_result r = run(list_args(""), stdio_mode::null, nullptr, context_.timeouts.query);
  if (r.exit_code != 0) fail("list", r, "cannot list Lima instances");
  return parse_list_json(r.out);
}

std::vector<std::string> lima_driver::create_args(std::string_view instance) {
  return {"create", "--tty=false", "--name", std::string(instance), "--mount-none", "-"};
}

void lima_driver::create(std::string_view instance, std::string_view lima_yaml) {
  stdin_payload yaml;
  yaml.append(lima_yaml);
  progress_relay progress(emit_, vm_, "create");
  process_result r = run(create_args(instance), stdio_mode::pipe, &yaml, context_.timeouts.create,
                         stdio_mode::pipe, stdio_mode::pipe, {}, progress.sink());
  progress.finish(r.exit_code == 0);
  if (r.exit_code == 0) return;
  // `limactl create` writes the instance directory before the driver checks the config (e.g.
  // vz with a foreign arch, upstream/cmd/limactl/start.go:571-579 then
  // upstream/pkg/instance/start.go:81): a failed create can leave a broken instance behind.
  // dvm asked for a new one, so whatever is there now is the failed attempt's and goes.
  try {
    if (query(instance)) {
      run({"delete", "--force", std::string(instance)}, stdio_mode::null, nullptr, context_.timeouts.change);
    }
  } catch (const lima_error&) {
    // The create error below is the one to report.
  }
  fail("create", r, "cannot create Lima instance " + std::string(instance));
}

std::vector<std::string> lima_driver::start_args(std::string_view instance, milliseconds timeout) {
  std::vector<std::string> args{"start", "--tty=false"};
  if (timeout.count() > 0) args.push_back("--timeout=" + go_duration(timeout));
  args.emplace_back(instance);
  return args;
}

milliseconds lima_driver::limactl_start_timeout(milliseconds ours) {
  return ours > std::chrono::minutes(2) ? ours - std::chrono::minutes(1) : ours;
}

void lima_driver::start(std::string_view instance, const std::string& instance_dir) {
  milliseconds ours = context_.timeouts.start;
  process_result r;
  progress_relay progress(emit_, vm_, "start");
  try {
    r = run(start_args(instance, limactl_start_timeout(ours)), stdio_mode::null, nullptr, ours,
            stdio_mode::pipe, stdio_mode::pipe, {}, progress.sink());
  } catch (const lima_error& e) {
    if (e.code() != errc::timeout) throw;
    run({"stop", "--force", std::string(instance)}, stdio_mode::null, nullptr, context_.timeouts.stop);
    throw;
  }
  progress.finish(r.exit_code == 0);
  if (r.exit_code == 0) return;
  // A failed start leaves the host agent and VM running: clean up, then explain.
  run({"stop", "--force", std::string(instance)}, stdio_mode::null, nullptr, context_.timeouts.stop);
  std::string agent_log;
  if (!instance_dir.empty()) {
    agent_log = stderr_tail(read_file_tail(fs::path(instance_dir) / "ha.stderr.log", 16384), 8);
  }
  std::string what = "cannot start Lima instance " + std::string(instance);
  if (agent_log.empty()) fail("start", r, what);
  std::string tail = stderr_tail(r.err);
  throw lima_error(errc::lima_failed, "start", r.exit_code, tail + "\n" + agent_log,
                   what + " (limactl start exited with status " + std::to_string(r.exit_code) +
                       ")" + (tail.empty() ? "" : ": " + tail) + "\nhost agent log (" +
                       instance_dir + "/ha.stderr.log):\n" + agent_log);
}

void lima_driver::stop(std::string_view instance) {
  bool graceful_ok = false;
  try {
    process_result r = run({"stop", std::string(instance)}, stdio_mode::null, nullptr,
                           context_.timeouts.stop);
    graceful_ok = r.exit_code == 0;
  } catch (const lima_error& e) {
    if (e.code() != errc::timeout) throw;
  }
  if (graceful_ok) return;
  process_result r = run({"stop", "--force", std::string(instance)}, stdio_mode::null, nullptr,
                         context_.timeouts.stop);
  if (r.exit_code != 0) fail("stop", r, "cannot stop Lima instance " + std::string(instance));
}

void lima_driver::remove(std::string_view instance) {
  process_result r = run({"delete", std::string(instance)}, stdio_mode::null, nullptr,
                         context_.timeouts.change);
  if (r.exit_code != 0) fail("delete", r, "cannot delete Lima instance " + std::string(instance));
}

std::vector<std::string> lima_driver::edit_args(std::string_view instance,
                                                const std::string& set_expression) {
  return {"edit", "--tty=false", "--set", set_expression, std::string(instance)};
}

void lima_driver::edit(std::string_view instance, const std::string& set_expression) {
  // limactl edit drops the rejected file into its working directory: ours is a scratch dir.
  // It is removed before the call too, so limactl never writes through an entry left there.
  std::error_code ec;
  fs::remove(context_.scratch_dir / "lima.REJECTED.yaml", ec);
  process_result r = run(edit_args(instance, set_expression), stdio_mode::null, nullptr,
                         context_.timeouts.change);
  fs::remove(context_.scratch_dir / "lima.REJECTED.yaml", ec);
  if (r.exit_code != 0) fail("edit", r, "cannot change Lima instance " + std::string(instance));
}

std::vector<std::string> lima_driver::shell_args(std::string_view instance,
                                                 const shell_request& request) {
  // Every flag before the instance name: after it, everything is the guest command.
  std::vector<std::string> args{"shell", "--workdir", request.workdir, std::string(instance)};
  args.insert(args.end(), request.command.begin(), request.command.end());
  return args;
}

process_result lima_driver::shell(std::string_view instance, const shell_request& request) {
  return run(shell_args(instance, request), request.stdin_mode, request.input, request.timeout,
             request.stdout_mode, request.stderr_mode, request.on_stdout, request.on_stderr);
}

process_result lima_driver::copy(const std::vector<std::string>& flags,
                                 const std::vector<std::string>& operands) {
  // `limactl copy` parses flags anywhere (cobra's interspersed parsing,
  // upstream/cmd/limactl/copy.go:43-56): "--" keeps an operand such as "-x.txt" an operand.
  std::vector<std::string> args{"copy"};
  args.insert(args.end(), flags.begin(), flags.end());
  args.emplace_back("--");
  args.insert(args.end(), operands.begin(), operands.end());
  return run(std::move(args), stdio_mode::null, nullptr, milliseconds(0));
}

}  // namespace dvm::detail
