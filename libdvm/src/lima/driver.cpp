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
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

namespace dvm::inline v0::detail {

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

// Where a log file stood before a call: only what it gains after that belongs to the call.
struct log_mark {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
};

log_mark mark_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size};
}

// The last `max_bytes` of what `path` gained since `before`: all of it when it is a new (or a
// truncated) file, nothing when it is unchanged.
std::string read_log_since(const fs::path& path, const log_mark& before, std::size_t max_bytes) {
  const log_mark now = mark_of(path);
  if (!now.exists) return {};
  const bool same_file = before.exists && before.dev == now.dev && before.ino == now.ino && now.size >= before.size;
  const auto from = static_cast<std::size_t>(same_file ? before.size : 0);
  const auto size = static_cast<std::size_t>(now.size);
  if (size <= from) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(std::max(from, size > max_bytes ? size - max_bytes : 0)));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

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
  // Lima recreates ha.stderr.log when its host agent starts; a start that fails before that
  // leaves the previous boot's log, which must not be shown as this start's.
  const fs::path agent_log_file = instance_dir.empty() ? fs::path() : fs::path(instance_dir) / "ha.stderr.log";
  const log_mark agent_log_before = agent_log_file.empty() ? log_mark{} : mark_of(agent_log_file);
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
  if (!agent_log_file.empty()) {
    agent_log = stderr_tail(read_log_since(agent_log_file, agent_log_before, 16384), 8);
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

}  // namespace dvm::v0::detail
