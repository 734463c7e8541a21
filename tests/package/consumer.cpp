// A program that embeds libdvm and touches every call of its public API (<dvm/dvm.hpp>): the
// package tests (package.find_package, package.add_subdirectory, package.pkg_config) build it
// against an installed or vendored libdvm with -Wall -Wextra -Werror -pedantic, so compiling it
// proves the headers are usable on their own and linking it proves every symbol is exported.
//
//   consumer [PREFIX]                       offline checks only: no limactl, no VM (the tests)
//   consumer [PREFIX] --with-lima [--shell] [--stop-all]
//                                           also drives a real Lima: creates, uses and deletes a
//                                           VM "consumer-demo" in a temporary config dir
//
// It reads like the API reference, one section per header. Only <dvm/...> and the standard
// library are used.
#include <dvm/dvm.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// --- test scaffolding ------------------------------------------------------------------------

int failures = 0;

void check(bool ok, std::string_view what) {
  if (!ok) {
    std::cerr << "consumer: FAILED: " << what << '\n';
    ++failures;
  }
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

template <typename T>
std::string printed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

/// Runs `call`, which must throw a dvm::error (or subclass) with `code`; returns what() or "".
template <typename Call>
std::string expect_error(dvm::errc code, Call&& call, std::string_view what) {
  try {
    call();
  } catch (const dvm::error& e) {
    check(e.code() == code, what);
    return e.what();
  }
  check(false, what);
  return {};
}

/// A scratch directory, removed at the end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("dvm-consumer-" + std::to_string(random()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

void write_file(const fs::path& file, std::string_view text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

// --- <dvm/version.hpp> (generated) ----------------------------------------------------------

void use_version() {
  // DVM_VERSION_* is what this program was compiled against; dvm::version() is the library
  // that is running.
  const std::string from_parts = std::to_string(DVM_VERSION_MAJOR) + "." + std::to_string(DVM_VERSION_MINOR) +
                                 "." + std::to_string(DVM_VERSION_PATCH);
  check(from_parts == DVM_VERSION_STRING, "DVM_VERSION_MAJOR/MINOR/PATCH make DVM_VERSION_STRING");
  check(dvm::version() == DVM_VERSION_STRING,
        "header version " DVM_VERSION_STRING " == library version " + std::string(dvm::version()));
}

// --- <dvm/error.hpp> ------------------------------------------------------------------------

constexpr std::array all_errc = {
    dvm::errc::usage,        dvm::errc::config,      dvm::errc::not_found,    dvm::errc::not_created,
    dvm::errc::not_running,  dvm::errc::lima_missing, dvm::errc::lima_version, dvm::errc::lima_failed,
    dvm::errc::guest_failed, dvm::errc::timeout,     dvm::errc::busy,         dvm::errc::refused,
    dvm::errc::cancelled,    dvm::errc::io,          dvm::errc::internal,
};

void use_errors() {
  for (dvm::errc code : all_errc) {
    check(!dvm::errc_name(code).empty(), "errc_name");
    check(dvm::to_string(code) == dvm::errc_name(code), "to_string(errc) == errc_name");
    check(printed(code) == dvm::errc_name(code), "operator<<(errc)");
  }
  check(dvm::errc_name(dvm::errc::lima_failed) == "lima_failed", "errc_name(lima_failed)");
  check(dvm::exit_code(dvm::errc::usage) == 2 && dvm::exit_code(dvm::errc::config) == 2 &&
            dvm::exit_code(dvm::errc::not_found) == 2,
        "exit code 2 for usage/config/not_found");
  check(dvm::exit_code(dvm::errc::lima_missing) == 3 && dvm::exit_code(dvm::errc::lima_version) == 3,
        "exit code 3 for limactl missing or too old");
  check(dvm::exit_code(dvm::errc::cancelled) == 130, "exit code 130 for cancelled");
  check(dvm::exit_code(dvm::errc::busy) == 1, "exit code 1 otherwise");

  // dvm::error: a code, a message, and optionally the operating system's cause.
  const dvm::error plain(dvm::errc::not_found, "no VM \"x\"");
  check(plain.code() == dvm::errc::not_found && plain.exit_code() == 2, "error::code/exit_code");
  check(std::string_view(plain.what()) == "no VM \"x\"" && !plain.cause(), "error::what/cause");
  const dvm::error io(dvm::errc::io, "cannot write x", std::make_error_code(std::errc::no_space_on_device));
  check(io.cause() == std::errc::no_space_on_device, "error::cause");

  // dvm::config_error: the location of a config problem.
  const dvm::config_error bad_config("vms/app.toml", 3, 9, "ports[1]", "host port 0 is out of range");
  const dvm::error& as_error = bad_config;  // every libdvm exception is a dvm::error
  check(as_error.code() == dvm::errc::config, "config_error is errc::config");
  check(bad_config.file() == "vms/app.toml" && bad_config.line() == 3 && bad_config.column() == 9 &&
            bad_config.key_path() == "ports[1]" && bad_config.rule() == "host port 0 is out of range",
        "config_error accessors");
  check(contains(bad_config.what(), "vms/app.toml:3:9"), "config_error::what has the location");

  // dvm::lima_error: a limactl call that failed.
  const dvm::lima_error lima(dvm::errc::lima_failed, "start", 1, "FATA[0000] boom", "limactl start failed");
  check(lima.subcommand() == "start" && lima.exit_status() == 1 && lima.stderr_tail() == "FATA[0000] boom" &&
            lima.exit_code() == 1,
        "lima_error accessors");
}

// --- <dvm/events.hpp> -----------------------------------------------------------------------

constexpr std::array all_event_kinds = {
    dvm::event_kind::limactl_started, dvm::event_kind::limactl_finished, dvm::event_kind::vm_creating,
    dvm::event_kind::vm_starting,     dvm::event_kind::vm_stopping,      dvm::event_kind::vm_reconciling,
    dvm::event_kind::vm_deleting,     dvm::event_kind::lima_progress,    dvm::event_kind::guest_started,
    dvm::event_kind::recipe_started,  dvm::event_kind::recipe_finished,  dvm::event_kind::recipe_failed,
    dvm::event_kind::hook_started,    dvm::event_kind::output,           dvm::event_kind::warning,
    dvm::event_kind::sync_finished,
};

/// What an embedder's progress display might print for one event.
std::string describe(const dvm::event& e) {
  std::ostringstream line;
  line << e.kind;
  if (!e.vm.empty()) line << " [" << e.vm << ']';
  if (!e.name.empty()) line << ' ' << e.name;
  for (const auto& arg : e.argv) line << ' ' << dvm::shell_quote(arg);
  if (e.kind == dvm::event_kind::limactl_finished || e.kind == dvm::event_kind::sync_finished) {
    line << " -> " << e.exit_code << " in " << e.duration.count() << " ms";
  }
  if (!e.message.empty()) line << ": " << e.message;
  return line.str();
}

void use_events() {
  for (dvm::event_kind kind : all_event_kinds) {
    check(dvm::to_string(kind) == dvm::event_kind_name(kind), "to_string(event_kind) == event_kind_name");
    check(printed(kind) == dvm::event_kind_name(kind), "operator<<(event_kind)");
  }
  dvm::event e;
  e.kind = dvm::event_kind::recipe_failed;
  e.vm = "app";
  e.name = "node";
  e.exit_code = 1;
  e.duration = 1500ms;
  e.message = "npm: not found";
  std::vector<std::string> shown;
  const dvm::event_sink sink = [&shown](const dvm::event& ev) { shown.push_back(describe(ev)); };
  sink(e);
  check(shown.size() == 1 && shown[0] == "recipe_failed [app] node: npm: not found", "event_sink");
}

// --- <dvm/ports.hpp> ------------------------------------------------------------------------

void use_ports() {
  const dvm::port_forward web = dvm::parse_port_forward("8080:80", "127.0.0.1");
  check(web.host_ip == "127.0.0.1" && web.host_port == 8080 && web.guest_port == 80 && web.proto == "tcp",
        "parse_port_forward host:guest");
  const dvm::port_forward lan = dvm::parse_port_forward("0.0.0.0:8080:8080", "127.0.0.1");
  check(dvm::to_string(web) == "127.0.0.1:8080->80/tcp", "to_string(port_forward)");
  check(printed(lan) == "0.0.0.0:8080->8080/tcp", "operator<<(port_forward)");
  check(dvm::host_bindings_conflict(web, lan), "0.0.0.0 conflicts with every IP on the same port");
  dvm::port_forward dns;
  dns.host_port = 5353;
  dns.guest_port = 53;
  dns.proto = "udp";
  check(!dvm::host_bindings_conflict(web, dns), "different ports do not conflict");
  check(web == dvm::parse_port_forward("127.0.0.1:8080:80", "10.0.0.1") && !(web == lan), "port_forward ==");

  check(dvm::is_ipv4_literal("192.168.1.10") && !dvm::is_ipv4_literal("010.0.0.1") &&
            !dvm::is_ipv4_literal("localhost"),
        "is_ipv4_literal");

  const dvm::port_forward_diff changes = dvm::diff({web, dns}, {dns, lan});
  check(!changes.empty() && changes.added == std::vector{lan} && changes.removed == std::vector{web}, "diff");
  check(dvm::diff({web, dns}, {dns, web}).empty(), "diff is order-insensitive");

  // A broken rule is a config error (CLI exit code 2).
  try {
    dvm::parse_port_forward("1:70000", "127.0.0.1");
    check(false, "port 70000 is refused");
  } catch (const dvm::error& e) {
    check(e.exit_code() == 2, "a bad port gives exit code 2");
  }
}

// --- <dvm/shell.hpp> ------------------------------------------------------------------------

void use_shell() {
  check(dvm::shell_quote("src/main.cpp") == "src/main.cpp", "shell_quote leaves safe words bare");
  check(dvm::shell_quote("it's here") == "'it'\\''s here'", "shell_quote single-quotes");
  try {
    dvm::shell_quote(std::string_view("a\0b", 3));
    check(false, "shell_quote refuses NUL");
  } catch (const std::invalid_argument&) {
  }
}

// --- <dvm/timeouts.hpp> ---------------------------------------------------------------------

void use_timeouts() {
  dvm::timeouts limits;
  limits.start = 20min;
  std::vector<std::string> names;
  for (const auto& field : dvm::timeouts::fields()) {
    names.emplace_back(field.name);
    check((limits.*field.member).count() > 0, "every limit has a default");
  }
  check(names.size() == 7 && names.front() == "query" && names.back() == "command", "timeouts::fields()");
  check(limits.*dvm::timeouts::fields()[2].member == 20min, "fields()[i].member points into the struct");

  // DVM_TIMEOUT: a cap in seconds; "" is unset.
  check(dvm::parse_timeout_cap("120") == std::chrono::milliseconds(120s), "parse_timeout_cap(\"120\")");
  check(dvm::parse_timeout_cap("0.5") == 500ms, "parse_timeout_cap(\"0.5\")");
  check(!dvm::parse_timeout_cap("").has_value(), "parse_timeout_cap(\"\") is unset");
  expect_error(dvm::errc::usage, [] { dvm::parse_timeout_cap("2m"); }, "parse_timeout_cap refuses units");
}

// --- <dvm/secret.hpp> and <dvm/process.hpp> -------------------------------------------------

/// A process_runner that runs nothing: it records the calls and plays a limactl 2.0.1 that
/// answers `--version` and fails everything else. Inject one with client_options::runner to
/// test an embedding program without Lima.
class recording_runner final : public dvm::process_runner {
 public:
  dvm::process_result run(const dvm::process_spec& spec) override {
    std::lock_guard lock(mutex_);
    calls_.push_back(spec.argv);
    if (spec.stdin_mode == dvm::stdio_mode::pipe && spec.input != nullptr) {
      stdin_bytes_ += bytes_of(*spec.input).size();  // only a runner can read a payload's bytes
    }
    dvm::process_result result;
    if (spec.argv.size() == 2 && spec.argv[1] == "--version") {
      result.exit_code = 0;
      result.out = "limactl version 2.0.1\n";
      if (spec.on_stdout) spec.on_stdout(result.out);
    } else {
      result.exit_code = 1;
      result.err = "recording_runner: not a real limactl\n";
      if (spec.on_stderr) spec.on_stderr(result.err);
    }
    result.elapsed = 1ms;
    return result;
  }
  std::vector<std::vector<std::string>> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t stdin_bytes() const {
    std::lock_guard lock(mutex_);
    return stdin_bytes_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::vector<std::string>> calls_;
  std::size_t stdin_bytes_ = 0;
};

void use_secrets_and_processes() {
  // dvm::secret: move-only, unprintable, wiped on destruction.
  dvm::secret none;
  check(none.empty() && none.size() == 0, "a default secret is empty");
  dvm::secret token(std::string_view("tskey-abc123"));
  std::string from_env = "ghp_0123456789";
  dvm::secret github(std::move(from_env));  // takes the bytes and wipes from_env
  check(token.size() == 12 && github.size() == 14 && !github.empty(), "secret::size/empty");
  dvm::secret moved(std::move(token));
  none = std::move(moved);
  check(none.size() == 12, "secret moves");

  char buffer[] = "password";
  dvm::secure_wipe(buffer, sizeof buffer);
  check(std::all_of(std::begin(buffer), std::end(buffer), [](char c) { return c == '\0'; }), "secure_wipe");

  // dvm::stdin_payload: text and secrets for a child's stdin; only redacted() is readable.
  dvm::stdin_payload payload;
  payload.append("TOKEN=");
  payload.append(github);
  payload.append("\n");
  check(payload.size() == 6 + 14 + 1 && payload.has_secrets(), "stdin_payload::size/has_secrets");
  check(payload.redacted() == "TOKEN=<redacted>\n" && payload.redacted("***") == "TOKEN=***\n",
        "stdin_payload::redacted");
  dvm::stdin_payload moved_payload(std::move(payload));
  dvm::stdin_payload assigned;
  assigned = std::move(moved_payload);
  check(assigned.size() == 21, "stdin_payload moves");

  // dvm::cancel_token: set from another thread or a signal handler.
  dvm::cancel_token cancel;
  cancel.request();
  check(cancel.requested(), "cancel_token::request");
  cancel.reset();
  check(!cancel.requested(), "cancel_token::reset");

  // A process_runner of one's own sees the payload's bytes through process_runner::bytes_of.
  recording_runner recorder;
  dvm::process_spec spec;
  spec.argv = {"limactl", "shell", "dvm-app", "bash"};
  spec.environment = {"HOME=/home/someone"};
  spec.timeout = 10s;
  spec.stdin_mode = dvm::stdio_mode::pipe;
  spec.input = &assigned;
  spec.cancel = &cancel;
  std::string err;
  spec.on_stderr = [&err](std::string_view chunk) { err += chunk; };
  const dvm::process_result fake = recorder.run(spec);
  check(fake.exit_code == 1 && err == fake.err && recorder.stdin_bytes() == 21, "a custom process_runner");

  // The default runner: explicit environment, stdin from a payload, streamed output.
  std::shared_ptr<dvm::process_runner> runner = dvm::make_default_runner();
  dvm::stdin_payload script;
  script.append("echo \"hello from $GREETING\"\n");
  dvm::process_spec sh;
  sh.argv = {"/bin/sh", "-s"};
  sh.environment = {"GREETING=libdvm", "PATH=/usr/bin:/bin"};
  sh.working_directory = fs::temp_directory_path();
  sh.timeout = 30s;
  sh.stdin_mode = dvm::stdio_mode::pipe;
  sh.input = &script;
  sh.stdout_mode = dvm::stdio_mode::pipe;
  sh.stderr_mode = dvm::stdio_mode::null;
  std::string streamed;
  sh.on_stdout = [&streamed](std::string_view chunk) { streamed += chunk; };
  sh.cancel = &cancel;
  const dvm::process_result real = runner->run(sh);
  check(real.exit_code == 0 && real.term_signal == 0 && !real.timed_out && !real.cancelled && !real.start_failed,
        "make_default_runner() runs /bin/sh");
  check(real.out == "hello from libdvm\n" && streamed == real.out && real.err.empty(),
        "the default runner captures and streams stdout");
  check(real.elapsed.count() > 0, "process_result::elapsed");

  dvm::process_spec missing;
  missing.argv = {"/nonexistent/dvm-consumer-program"};
  missing.stderr_mode = dvm::stdio_mode::inherit;  // this process's own stderr
  check(runner->run(missing).start_failed, "process_result::start_failed");
}

// --- <dvm/recipes.hpp> ----------------------------------------------------------------------

void use_recipes(const fs::path& user_recipes) {
  check(dvm::is_valid_recipe_name("agent-user") && !dvm::is_valid_recipe_name("Agent"), "is_valid_recipe_name");
  check(dvm::recipe_secret::token_char('-') && !dvm::recipe_secret::token_char('/'), "recipe_secret::token_char");

  // The bundled recipes only.
  const dvm::recipe_catalog bundled;
  const dvm::recipe* baseline = bundled.find(dvm::baseline_recipe);
  check(baseline != nullptr && baseline->bundled && baseline->path.empty() && !baseline->text.empty(),
        "the bundled catalog has the baseline");
  check(!bundled.helpers().empty(), "recipe_catalog::helpers");
  check(std::is_sorted(bundled.all().begin(), bundled.all().end(),
                       [](const dvm::recipe& a, const dvm::recipe& b) { return a.name < b.name; }),
        "recipe_catalog::all is sorted");
  int token_secrets = 0;
  check(bundled.find("chezmoi")->always && !bundled.find("git")->always,
        "recipe::always: chezmoi runs at every sync");
  check(!bundled.find("agent-user")->every_sync.empty() && bundled.find("git")->every_sync.empty(),
        "recipe::every_sync: agent-user's deny ACLs run at every sync");
  check(std::all_of(bundled.all().begin(), bundled.all().end(),
                    [](const dvm::recipe& r) { return r.check.empty() || r.check.starts_with("dvm_check()"); }),
        "recipe::check is a dvm_check function");
  for (const dvm::recipe& r : bundled.all()) {
    check(!r.description.empty() && !r.shadows_bundled, "every bundled recipe has a description");
    for (const auto& needed : r.requires_recipes) check(bundled.find(needed) != nullptr, "Requires names a recipe");
    if (r.service) check(contains(r.service->unit, ".service"), "recipe_service::unit");
    for (const dvm::recipe_secret& s : r.secrets) {
      check(dvm::is_valid_secret_name(s.name) && (s.alias.empty() || dvm::is_valid_secret_name(s.alias)),
            "recipe_secret names");
      check(std::all_of(s.prefix.begin(), s.prefix.end(), dvm::recipe_secret::token_char),
            "recipe_secret::prefix holds token characters");
      token_secrets += s.token_charset ? 1 : 0;
    }
  }
  check(token_secrets > 0, "bundled recipes have charset=token secrets (tailscale, cloudflared)");

  // Plus the user's recipes in a directory.
  const dvm::recipe_catalog with_user(user_recipes);
  const dvm::recipe* hello = with_user.find("hello");
  check(hello != nullptr && !hello->bundled && hello->path == user_recipes / "hello.sh", "a user recipe");
  if (hello != nullptr) {
    check(hello->description == "says hello", "recipe::description");
    check(hello->requires_recipes == std::vector<std::string>{"git"}, "recipe::requires_recipes");
    check(hello->service && hello->service->unit == "dvm-hello.service" && hello->service->env_key == "HELLO_SERVICE",
          "recipe::service");
    check(hello->secrets.size() == 1 && hello->secrets[0].name == "HELLO_TOKEN" && hello->secrets[0].prefix == "hk-" &&
              hello->secrets[0].token_charset,
          "recipe::secrets");
  }
  const dvm::recipe* tmux = with_user.find("tmux");
  check(tmux != nullptr && !tmux->bundled && tmux->shadows_bundled, "a user recipe overrides a bundled one");
  check(with_user.find("no-such-recipe") == nullptr, "recipe_catalog::find of an unknown name");

  // `dvm init` templates.
  const std::vector<std::string> names = dvm::init_template_names();
  check(std::find(names.begin(), names.end(), "app") != names.end(), "init_template_names has app");
  const std::vector<dvm::init_template> templates = dvm::init_templates();
  check(templates.size() == names.size(), "init_templates");
  for (const auto& t : templates) check(!t.name.empty() && !t.description.empty(), "init_template fields");
}

// --- <dvm/config.hpp> -----------------------------------------------------------------------

void use_config_functions() {
  // Host facts and directories.
  const dvm::host_info host = dvm::detect_host();
  check((host.os == "linux" || host.os == "darwin") && host.cpus >= 1 && host.memory_bytes > 0, "detect_host");
  (void)host.arch;        // "x86_64" or "aarch64"
  (void)host.login_name;  // the default guest user ("" when unknown)
  const dvm::paths defaults = dvm::resolve_paths({{"HOME", "/home/someone"}, {"XDG_CONFIG_HOME", "relative"}});
  check(defaults.config_dir == "/home/someone/.config/dvm", "resolve_paths: default config dir");
  check(!defaults.state_dir.empty(), "resolve_paths: a state dir");
  const dvm::paths chosen = dvm::resolve_paths({{"DVM_CONFIG", "/srv/dvm"}, {"HOME", "/home/someone"}});
  check(chosen.config_dir == "/srv/dvm", "resolve_paths: DVM_CONFIG");
  const std::map<std::string, std::string> environment = dvm::current_environment();
  check(std::none_of(environment.begin(), environment.end(), [](const auto& kv) { return kv.first.empty(); }),
        "current_environment");

  // Sizes.
  check(dvm::parse_size("1.5GiB") == 1536ull << 20 && dvm::parse_size("2G") == 2ull << 30 &&
            dvm::parse_size("1000") == 1000,
        "parse_size");
  check(dvm::format_size(2ull << 30) == "2GiB" && dvm::format_size(1536ull << 20) == "1536MiB" &&
            dvm::format_size(1000) == "1000",
        "format_size");
  expect_error(dvm::errc::config, [] { dvm::parse_size("0"); }, "parse_size(\"0\") is refused");

  // Names.
  check(dvm::instance_prefix == "dvm-", "instance_prefix");
  check(dvm::is_valid_vm_name("app") && !dvm::is_valid_vm_name("App") && !dvm::is_valid_vm_name("app-"),
        "is_valid_vm_name");
  check(dvm::normalize_vm_name("dvm-app") == "app" && dvm::normalize_vm_name("app") == "app", "normalize_vm_name");
  expect_error(dvm::errc::usage, [] { dvm::normalize_vm_name("Not A Name"); }, "normalize_vm_name refuses");
  check(dvm::is_valid_user_name("developer") && !dvm::is_valid_user_name("Dev"), "is_valid_user_name");
  check(dvm::is_valid_secret_name("GITHUB_TOKEN") && !dvm::is_valid_secret_name("github"), "is_valid_secret_name");
  check(dvm::is_valid_env_key("LLAMA_SERVICE") && !dvm::is_valid_env_key("_X"), "is_valid_env_key");
  check(dvm::is_secret_looking_name("GITHUB_TOKEN") && !dvm::is_secret_looking_name("EDITOR"),
        "is_secret_looking_name");

  // Problems found by dvm::validate.
  check(dvm::to_string(dvm::severity::error) == "error" && dvm::to_string(dvm::severity::warning) == "warning",
        "to_string(severity)");
  check(printed(dvm::severity::warning) == "warning", "operator<<(severity)");
  dvm::config_problem problem;
  problem.file = "vms/app.toml";
  problem.line = 3;
  problem.column = 9;
  problem.key_path = "ports[1]";
  problem.rule = "host port 80 needs root on Linux";
  problem.severity = dvm::severity::warning;
  problem.vm = "app";
  const std::string shown = dvm::to_string(problem);
  check(contains(shown, "vms/app.toml:3:9") && contains(shown, "ports[1]") && contains(shown, problem.rule),
        "to_string(config_problem)");
}

/// Prints a VM config the way `dvm plan` might.
void print_vm(std::ostream& out, const dvm::vm_config& vm) {
  out << vm.name << " (" << vm.instance_name() << ", " << vm.file.filename().string() << "): " << vm.cpus
      << " CPUs, " << dvm::format_size(vm.memory_bytes) << " memory, " << dvm::format_size(vm.disk_bytes)
      << " disk, arch " << vm.arch << ", vm_type " << vm.vm_type << ", image " << vm.image << '\n'
      << "  user " << vm.user << " (home " << vm.guest_home() << "), code in " << vm.code_dir << ", agent "
      << vm.agent_user << ", ports on " << vm.host_ip << ":";
  for (const auto& p : vm.ports) out << ' ' << p;
  out << "\n  recipes" << (vm.baseline ? " (after baseline):" : ":");
  for (const auto& r : vm.recipes) out << ' ' << r;
  out << "\n  secrets:";
  for (const auto& s : vm.secrets) out << ' ' << s;
  out << "\n  env:";
  for (const auto& [key, value] : vm.env) out << ' ' << key << '=' << dvm::shell_quote(value);
  for (const auto& w : vm.warnings) out << "\n  warning: " << w;
  out << '\n';
}

void use_config_store(const fs::path& config_dir, const fs::path& broken_dir) {
  const dvm::host_info host = dvm::detect_host();
  const dvm::config_store store({config_dir, config_dir / "state"}, host);
  check(store.location().config_dir == config_dir && store.host().cpus == host.cpus, "config_store::location/host");
  check(store.vm_file("demo") == config_dir / "vms" / "demo.toml", "config_store::vm_file");
  check(store.vm_names() == std::vector<std::string>{"demo"}, "config_store::vm_names");
  check(store.has_vm("demo") && !store.has_vm("other"), "config_store::has_vm");
  check(store.lima_pass_env() == std::vector<std::string>{"HTTPS_PROXY"}, "config_store::lima_pass_env");
  check(store.recipes().find("hello") != nullptr, "config_store::recipes has the user's recipes");

  const dvm::vm_config demo = store.load("demo");
  std::ostringstream description;
  print_vm(description, demo);
  check(contains(description.str(), "demo (dvm-demo, demo.toml): 3 CPUs, 3GiB memory"), "vm_config fields");
  check(demo.name == "demo" && demo.instance_name() == "dvm-demo" && demo.user == "developer" &&
            demo.guest_home() == "/home/developer",
        "vm_config names");
  check(demo.memory_bytes == dvm::parse_size("3GiB") && demo.cpus == 3, "vm_config sizes ([defaults] merged)");
  check(demo.ports.size() == 1 && demo.ports[0].host_port == 3000, "vm_config::ports");
  check(demo.recipes == std::vector<std::string>{"git", "hello"}, "vm_config::recipes (a recipe set expanded)");
  check(demo.secrets == std::vector<std::string>{"DEMO_TOKEN"}, "vm_config::secrets");
  check(demo.env.size() == 1 && demo.env[0].first == "GREETING" && demo.env[0].second == "hi", "vm_config::env");

  const std::string yaml = dvm::render_lima_yaml(demo);
  check(contains(yaml, "hostIP: \"127.0.0.1\""), "render_lima_yaml forwards the port on 127.0.0.1");

  expect_error(dvm::errc::not_found, [&] { store.load("other"); }, "load of an unknown VM");

  // dvm::validate: every problem at once, as data. The demo dir has no errors.
  const std::map<std::string, std::string> environment{{"HOME", "/home/someone"}, {"DVM_TIMEOUT", "600"}};
  for (const auto& p : dvm::validate(config_dir, host, environment)) {
    check(p.severity != dvm::severity::error, "validate of a valid config dir: " + dvm::to_string(p));
  }
  for (const auto& p : store.validate(environment)) {
    check(p.severity != dvm::severity::error, "config_store::validate: " + dvm::to_string(p));
  }
  (void)dvm::validate(config_dir).size();  // this host, this process's environment

  // A broken VM file: load() throws the first problem, validate() returns them all.
  const dvm::config_store broken({broken_dir, broken_dir / "state"}, host);
  try {
    broken.load("broken");
    check(false, "a port out of range is refused");
  } catch (const dvm::config_error& e) {
    check(e.code() == dvm::errc::config && e.exit_code() == 2, "config_error from load");
    check(e.file().filename() == "broken.toml" && e.line() == 1 && e.column() > 0 && !e.rule().empty(),
          "config_error names file, line and rule");
    check(contains(e.key_path(), "ports"), "config_error::key_path");
  }
  const std::vector<dvm::config_problem> problems = dvm::validate(broken_dir, host, environment);
  const bool reported = std::any_of(problems.begin(), problems.end(), [](const dvm::config_problem& p) {
    return p.severity == dvm::severity::error && p.file.filename() == "broken.toml" && p.line == 1;
  });
  check(reported, "validate reports the broken port");
  std::ostringstream listing;  // as `dvm validate` might show them
  for (const auto& p : problems) {
    listing << p.severity;
    if (!p.vm.empty()) listing << " [" << p.vm << ']';
    listing << ": " << dvm::to_string(p) << '\n';
  }
  check(contains(listing.str(), "broken.toml:1:"), "to_string(config_problem) of a found problem");
}

// --- <dvm/client.hpp>: the offline parts ----------------------------------------------------

constexpr std::array all_vm_states = {dvm::vm_state::absent,    dvm::vm_state::unknown, dvm::vm_state::uninitialized,
                                      dvm::vm_state::installing, dvm::vm_state::broken, dvm::vm_state::stopped,
                                      dvm::vm_state::running};

void use_client_types() {
  for (dvm::vm_state s : all_vm_states) check(printed(s) == dvm::to_string(s), "operator<<(vm_state)");
  check(dvm::to_string(dvm::vm_state::absent) == "absent" && dvm::to_string(dvm::vm_state::running) == "Running",
        "to_string(vm_state)");
  for (dvm::stop_action a : {dvm::stop_action::stopped, dvm::stop_action::skipped, dvm::stop_action::failed}) {
    check(printed(a) == dvm::to_string(a), "operator<<(stop_action)");
  }
  check(dvm::to_string(dvm::stop_action::skipped) == "skipped", "to_string(stop_action)");
  for (dvm::doctor_status s : {dvm::doctor_status::ok, dvm::doctor_status::warning, dvm::doctor_status::problem}) {
    check(printed(s) == dvm::to_string(s), "operator<<(doctor_status)");
  }
  check(dvm::to_string(dvm::doctor_status::problem) == "problem", "to_string(doctor_status)");

  dvm::vm_status vm;
  vm.name = "app";
  vm.instance = "dvm-app";
  vm.state = dvm::vm_state::running;
  vm.configured = true;
  vm.ssh_address = "127.0.0.1:60022";
  check(printed(vm) == "app: Running, ssh 127.0.0.1:60022", "operator<<(vm_status)");

  dvm::doctor_report report;
  dvm::doctor_check limactl;
  limactl.name = "limactl";
  limactl.status = dvm::doctor_status::problem;
  limactl.message = "limactl not found";
  dvm::doctor_check ports;
  ports.vm = "app";
  ports.name = "ports";
  ports.status = dvm::doctor_status::warning;
  report.checks = {limactl, ports, dvm::doctor_check{}};
  check(report.problems() == 1 && report.warnings() == 1, "doctor_report::problems/warnings");

  dvm::dirty_report clean;
  check(clean.clean(), "an empty dirty_report is clean");
  dvm::dirty_report dirty;
  dirty.repositories.push_back({".", {"unstaged changes"}});
  dirty.problems.push_back({"git_symlink", "vendor/.git", "a .git that is a symbolic link"});
  check(!dirty.clean(), "dirty_report::clean");
  const dvm::unsaved_work_error refused("VM \"app\" has unsaved work", dirty);
  check(refused.code() == dvm::errc::refused && refused.exit_code() == 1 &&
            refused.report().repositories.size() == 1 && refused.report().problems[0].kind == "git_symlink",
        "unsaved_work_error");
}

/// Prints what a refused remove found.
void print_dirty(std::ostream& out, const dvm::dirty_report& report) {
  for (const auto& repo : report.repositories) {
    out << "  " << repo.path << ":";
    for (const auto& why : repo.reasons) out << ' ' << why << ';';
    out << '\n';
  }
  out << "  " << report.loose_file_count << " loose files";
  for (const auto& f : report.loose_files) out << ' ' << f;
  out << '\n';
  for (const auto& p : report.problems) out << "  " << p.kind << ' ' << p.path << ": " << p.message << '\n';
  if (report.incomplete) out << "  incomplete: " << report.incomplete_reason << '\n';
}

/// A client on a temporary config dir with a recording runner: what runs without Lima.
void use_client_offline(const fs::path& config_dir) {
  // The driver checks that the limactl it is told to use is an executable file; the recording
  // runner then answers for it, so this script never runs.
  const fs::path limactl = config_dir / "bin" / "limactl";
  write_file(limactl, "#!/bin/sh\necho 'limactl version 2.0.1'\n");
  fs::permissions(limactl, fs::perms::owner_all);

  auto recorder = std::make_shared<recording_runner>();
  std::vector<dvm::event> events;  // the client serialises calls to on_event
  dvm::cancel_token cancel;

  dvm::client_options options;
  options.environment = std::map<std::string, std::string>{
      {"HOME", (config_dir / "home").string()}, {"PATH", "/usr/bin:/bin"}, {"DEMO_UNRELATED", "1"}};
  options.config_dir = config_dir;
  options.state_dir = config_dir / "state";
  options.limactl = limactl.string();
  options.runner = recorder;
  options.on_event = [&events](const dvm::event& e) { events.push_back(e); };
  options.host = dvm::detect_host();
  options.cancel = &cancel;
  options.timeouts.query = 5s;

  dvm::client first(std::move(options));
  dvm::client c(std::move(first));  // clients move
  dvm::client other;
  other = std::move(c);
  c = std::move(other);

  check(c.location().config_dir == config_dir && c.location().state_dir == config_dir / "state", "client::location");
  check(c.configs().has_vm("demo"), "client::configs");

  // init_config writes vms/<name>.toml from a template, once.
  const dvm::init_result made = c.init_config("web", "app");
  check(made.created && made.path == config_dir / "vms" / "web.toml" && fs::exists(made.path), "client::init_config");
  check(!c.init_config("web").created, "init_config never overwrites");
  expect_error(dvm::errc::usage, [&] { c.init_config("web2", "no-such-template"); }, "init_config: unknown template");

  // plan: what sync would do, computed without calling limactl.
  const dvm::plan_result plan = c.plan("demo");
  check(plan.vm == "demo" && plan.instance == "dvm-demo" && contains(plan.lima_yaml, "hostIP"), "client::plan");
  check(!plan.calls.empty() && plan.calls.front().argv.front() == "limactl", "plan_result::calls");
  check(std::any_of(plan.calls.begin(), plan.calls.end(),
                    [&plan](const dvm::planned_call& call) { return call.stdin_text == plan.lima_yaml; }),
        "planned_call::stdin_text: `limactl create` reads the lima.yaml");
  check(!plan.guest_program.empty(), "plan_result::guest_program");
  check(std::find(plan.secrets.begin(), plan.secrets.end(), "DEMO_TOKEN") != plan.secrets.end(),
        "plan_result::secrets names the listed secret");
  check(!plan.warnings.empty(), "plan_result::warnings: DEMO_TOKEN is not set");
  // plan changes nothing: its only call is the read-only `limactl list` (which this runner
  // fails, so whether each recipe would run is unknown).
  const auto plan_calls = recorder->calls();
  check(plan_calls.size() <= 1 && std::all_of(plan_calls.begin(), plan_calls.end(),
                                              [](const auto& call) { return call.size() > 1 && call[1] == "list"; }),
        "plan only reads");
  check(!plan.recipes.empty() && plan.recipes.front().name == "baseline" && plan.recipes.front().always,
        "plan_result::recipes starts with the baseline");
  const dvm::recipe_state& first_state = plan.recipes.front();
  check(first_state.freshness == dvm::recipe_freshness::unknown && to_string(first_state.freshness) == "unknown" &&
            first_state.will_run() && !first_state.last_run,
        "recipe_state: not read, so it runs");

  // versions: dvm's and limactl's (here: the recording runner's).
  const dvm::version_info versions = c.versions();
  check(versions.dvm == dvm::version(), "version_info::dvm");
  check(versions.limactl == "2.0.1" && versions.limactl_problem.empty(), "version_info::limactl via the runner");
  const auto calls = recorder->calls();
  check(calls.size() == plan_calls.size() + 1 && calls.back().front() == limactl.string() &&
            calls.back().back() == "--version",
        "the client ran `limactl --version` through the injected runner");
  check(std::any_of(events.begin(), events.end(),
                    [](const dvm::event& e) { return e.kind == dvm::event_kind::limactl_finished; }),
        "on_event saw the limactl call");
}

// --- <dvm/client.hpp>: everything that needs Lima -------------------------------------------
// Run only with --with-lima (never by the tests): it creates, uses and deletes the VM
// "consumer-demo", configured in a temporary config dir; Lima's own home is the usual one.

void use_client_with_lima(const fs::path& config_dir, bool interactive_shell, bool stop_everything) {
  dvm::cancel_token cancel;  // a signal handler could request() it
  dvm::client_options options;
  options.config_dir = config_dir;
  options.on_event = [](const dvm::event& e) { std::cerr << "  " << describe(e) << '\n'; };
  options.cancel = &cancel;
  options.timeouts.create = 40min;
  if (auto cap = dvm::parse_timeout_cap(dvm::current_environment()["DVM_TIMEOUT"])) {
    dvm::timeouts& limits = options.timeouts;
    for (const auto& field : dvm::timeouts::fields()) limits.*field.member = std::min(limits.*field.member, *cap);
  }
  dvm::client c(std::move(options));
  const std::string vm = "consumer-demo";
  std::cout << "config in " << c.location().config_dir << ", state in " << c.location().state_dir << '\n';

  const dvm::version_info versions = c.versions();
  std::cout << "dvm " << versions.dvm << ", limactl " << versions.limactl << ' ' << versions.limactl_problem << '\n';

  const dvm::init_result made = c.init_config(vm, "app");
  std::cout << (made.created ? "wrote " : "kept ") << made.path << '\n';

  // sync: create, reconcile, start, run the recipes; secrets go over stdin only.
  dvm::sync_options sync_options;
  sync_options.secrets.emplace("DEMO_TOKEN", dvm::secret(std::string_view("not-a-real-token")));
  sync_options.restart = false;
  sync_options.full = false;         // true: every recipe, also the unchanged ones (`--full`)
  sync_options.recipes = {"baseline"};  // run these even when unchanged (`--recipe`)
  const dvm::sync_result synced = c.sync(vm, std::move(sync_options));
  std::cout << synced.vm << ": created " << synced.created << ", started " << synced.started << ", "
            << synced.limactl_calls << " limactl calls in " << synced.duration.count() << " ms\n";
  for (const auto& what : synced.reconciled) std::cout << "  reconciled " << what << '\n';
  for (const dvm::recipe_timing& r : synced.recipes) {
    std::cout << "  " << r.name << ' ' << (r.skipped ? "unchanged" : r.ok ? "ok" : "FAILED") << " in "
              << r.duration.count() << " ms\n";
  }

  dvm::sync_all_options all;
  all.jobs = 2;
  all.names = {vm};
  all.secrets[vm].emplace("DEMO_TOKEN", dvm::secret(std::string_view("not-a-real-token")));
  all.restart = false;
  all.full = true;
  all.recipes = {};
  const dvm::sync_all_result all_synced = c.sync_all(std::move(all));
  std::cout << all_synced.ok << " synced, " << all_synced.failed << " failed\n";
  for (const dvm::sync_outcome& o : all_synced.outcomes) {
    if (o.ok && o.result) std::cout << "  " << o.vm << ": " << o.result->duration.count() << " ms\n";
    else std::cout << "  " << o.vm << ": " << o.error_code << ": " << o.message << '\n';
  }

  // State.
  for (const dvm::vm_status& s : c.list()) {
    std::cout << s << " (" << s.instance << ", configured " << s.configured << ")\n";
  }
  const dvm::vm_status st = c.status(vm);
  std::cout << st << ": " << st.cpus << " CPUs, " << dvm::format_size(st.memory_bytes) << ", "
            << dvm::format_size(st.disk_bytes) << ", " << st.arch << '/' << st.vm_type << " in " << st.dir
            << ", code " << st.code_dir << '\n';
  for (const auto& p : st.ports) std::cout << "  port " << p << '\n';
  for (const auto& r : st.recipes) std::cout << "  recipe " << r << '\n';
  for (const dvm::recipe_state& r : st.recipe_states) {
    std::cout << "  " << r.name << ": " << r.freshness << (r.will_run() ? ", runs at the next sync" : "") << '\n';
  }
  for (const auto& r : st.recreate_to_apply) std::cout << "  needs a new instance: " << r << '\n';

  // In the guest.
  dvm::exec_options exec_options;
  exec_options.input = "hello from the host\n";
  const dvm::exec_result ran = c.exec(vm, {"sh", "-c", "cat; pwd; exit 3"}, exec_options);
  std::cout << "exec: exit " << ran.exit_code << " in " << ran.duration.count() << " ms\n"
            << ran.stdout_text << ran.stderr_text;
  dvm::exec_options tty;
  tty.interactive = true;
  if (interactive_shell) {
    (void)c.exec(vm, {"top"}, tty);  // the terminal is the guest command's; the result holds no output
    std::cout << "shell ended with " << c.shell(vm) << '\n';
  }

  const fs::path notes = config_dir / "notes.txt";
  write_file(notes, "notes\n");
  dvm::copy_options copy_options;
  copy_options.recursive = false;
  copy_options.verbose = true;
  copy_options.backend = "auto";
  const dvm::copy_result up = c.copy({notes.string()}, vm + ":notes.txt", copy_options);
  const dvm::copy_result down = c.copy({vm + ":notes.txt"}, (config_dir / "back.txt").string());
  for (const dvm::copy_result* r : {&up, &down}) {
    std::cout << "copy " << (r->into_vm ? "into " : "out of ") << r->vm << ": " << r->sources.size()
              << " operands -> " << r->target << ", " << r->files << " files, " << r->bytes << " bytes in "
              << r->duration.count() << " ms\n";
  }

  dvm::log_options log_options;
  log_options.unit = "ssh.service";
  log_options.args = {"--no-pager", "-n", "20"};
  log_options.interactive = false;
  const dvm::logs_result logs = c.logs(vm, log_options);
  std::cout << logs.unit << ": journalctl exit " << logs.exit_code << " in " << logs.duration.count() << " ms\n"
            << logs.output;

  std::cout << c.ssh_config(vm);
  const dvm::ssh_key_result ssh = c.ssh_key(vm);
  std::cout << (ssh.created ? "created " : "existing ") << ssh.access_public_key << ssh.signing_public_key;
  const dvm::gpg_key_result gpg = c.gpg_key(vm);
  std::cout << (gpg.created ? "created " : "existing ") << gpg.fingerprint << '\n' << gpg.armored_public_key;

  // Diagnostics.
  for (const dvm::doctor_report& report : {c.doctor(vm), c.doctor()}) {
    for (const dvm::doctor_check& check_result : report.checks) {
      std::cout << check_result.status << ' ' << check_result.vm << ' ' << check_result.name << ": "
                << check_result.message << '\n';
    }
    std::cout << report.problems() << " problems, " << report.warnings() << " warnings\n";
  }

  // Lifecycle.
  const dvm::stop_result stopped = c.stop(vm);
  std::cout << stopped.vm << (stopped.stopped ? " stopped\n" : " was not running\n");
  const dvm::start_result started = c.start(vm);
  std::cout << started.vm << (started.started ? " started\n" : " was running\n");
  const dvm::start_result restarted = c.restart(vm);
  std::cout << restarted.vm << " restarted: " << restarted.started << '\n';
  if (stop_everything) {  // stops every inactive dvm VM, not only this one
    dvm::stop_all_options stop_options;
    stop_options.inactive_only = true;
    stop_options.force = false;
    const dvm::stop_all_result all_stopped = c.stop_all(stop_options);
    for (const dvm::stop_outcome& o : all_stopped.outcomes) std::cout << o.vm << ": " << o.action << ' ' << o.reason << '\n';
    std::cout << all_stopped.stopped << " stopped, " << all_stopped.skipped << " skipped, " << all_stopped.failed
              << " failed\n";
  }

  const dvm::dirty_report work = c.check_unsaved_work(vm);
  std::cout << "unsaved work: " << (work.clean() ? "none" : "some") << '\n';
  print_dirty(std::cout, work);
  dvm::remove_options careful;
  careful.force = false;
  dvm::remove_result removed;
  try {
    removed = c.remove(vm, careful);
  } catch (const dvm::unsaved_work_error& e) {
    std::cout << e.what() << '\n';
    print_dirty(std::cout, e.report());
    dvm::remove_options force;
    force.force = true;
    removed = c.remove(vm, force);
  }
  std::cout << removed.vm << ": removed " << removed.removed << ", checked " << removed.checked << '\n';
  for (const auto& w : removed.warnings) std::cout << "  warning: " << w << '\n';
}

/// The config dir the examples use: config.toml, one VM, one user recipe.
void write_demo_config(const fs::path& dir) {
  write_file(dir / "config.toml",
             "[defaults]\n"
             "memory = \"3GiB\"\n"
             "\n"
             "[recipe_sets]\n"
             "greeting = [\"git\", \"hello\"]\n"
             "\n"
             "[lima]\n"
             "pass_env = [\"HTTPS_PROXY\"]\n");
  write_file(dir / "vms" / "demo.toml",
             "cpus = 3\n"
             "user = \"developer\"\n"
             "ports = [\"3000:3000\"]\n"
             "recipes = [\"@greeting\"]\n"
             "secrets = [\"DEMO_TOKEN\"]\n"
             "\n"
             "[env]\n"
             "GREETING = \"hi\"\n");
  write_file(dir / "recipes" / "hello.sh",
             "# Description: says hello\n"
             "# Requires: git\n"
             "# Service: dvm-hello.service env=HELLO_SERVICE\n"
             "# Secret: HELLO_TOKEN prefix=hk- charset=token\n"
             "echo \"hello, $DVM_GREETING\"\n");
  write_file(dir / "recipes" / "tmux.sh",
             "# Description: tmux, my way\n"
             "command -v tmux >/dev/null || sudo apt-get install -y tmux\n");
}

}  // namespace

int main(int argc, char** argv) {
  // argv[1], when given, is the install prefix the package test built against (unused here).
  bool with_lima = false;
  bool interactive_shell = false;
  bool stop_everything = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    with_lima = with_lima || arg == "--with-lima";
    interactive_shell = interactive_shell || arg == "--shell";
    stop_everything = stop_everything || arg == "--stop-all";
  }

  try {
    use_version();
    use_errors();
    use_events();
    use_ports();
    use_shell();
    use_timeouts();
    use_secrets_and_processes();

    const temp_dir scratch;
    const fs::path config_dir = scratch.path / "config";
    const fs::path broken_dir = scratch.path / "broken";
    write_demo_config(config_dir);
    write_file(broken_dir / "vms" / "broken.toml", "ports = [\"1:70000\"]\n");

    use_recipes(config_dir / "recipes");
    use_config_functions();
    use_config_store(config_dir, broken_dir);
    use_client_types();
    use_client_offline(config_dir);

    if (with_lima) {
      const temp_dir lima_config;
      use_client_with_lima(lima_config.path, interactive_shell, stop_everything);
    }
  } catch (const dvm::error& e) {
    std::cerr << "consumer: unexpected dvm::error (" << e.code() << "): " << e.what() << '\n';
    return e.exit_code();  // as the dvm CLI does
  } catch (const std::exception& e) {
    std::cerr << "consumer: unexpected exception: " << e.what() << '\n';
    return 1;
  }

  if (failures != 0) {
    std::cerr << "consumer: " << failures << " checks failed\n";
    return 1;
  }
  std::cout << "libdvm " << dvm::version() << " OK\n";
  return 0;
}
