#include <dvm/error.hpp>

#include <dvm/config.hpp>

#include <utility>

namespace dvm::inline v0 {

std::string_view errc_name(errc code) noexcept {
  switch (code) {
    case errc::usage: return "usage";
    case errc::config: return "config";
    case errc::not_found: return "not_found";
    case errc::not_created: return "not_created";
    case errc::not_running: return "not_running";
    case errc::lima_missing: return "lima_missing";
    case errc::lima_version: return "lima_version";
    case errc::lima_failed: return "lima_failed";
    case errc::guest_failed: return "guest_failed";
    case errc::timeout: return "timeout";
    case errc::busy: return "busy";
    case errc::refused: return "refused";
    case errc::cancelled: return "cancelled";
    case errc::io: return "io";
    case errc::internal: return "internal";
  }
  return "internal";
}

int exit_code(errc code) noexcept {
  switch (code) {
    case errc::usage:
    case errc::config:
    case errc::not_found: return 2;
    case errc::lima_missing:
    case errc::lima_version: return 3;
    case errc::cancelled: return 130;
    default: return 1;
  }
}

error::error(errc code, const std::string& message) : std::runtime_error(message), code_(code) {}

error::error(errc code, const std::string& message, std::error_code cause)
    : std::runtime_error(message), code_(code), cause_(cause) {}

namespace {
std::string located_message(const std::filesystem::path& file, int line, int column,
                            const std::string& key_path, const std::string& rule) {
  std::string out = file.string();
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += rule;
  return out;
}
}  // namespace

std::string to_string(const config_problem& problem) {
  if (problem.file.empty()) return problem.rule;  // the environment: the rule names the variable
  return located_message(problem.file, problem.line, problem.column, problem.key_path, problem.rule);
}

config_error::config_error(std::filesystem::path file, int line, int column, std::string key_path,
                           std::string rule)
    : error(errc::config, located_message(file, line, column, key_path, rule)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      key_path_(std::move(key_path)),
      rule_(std::move(rule)) {}

lima_error::lima_error(errc code, std::string subcommand, int exit_status, std::string stderr_tail,
                       const std::string& message)
    : error(code, message),
      subcommand_(std::move(subcommand)),
      exit_status_(exit_status),
      stderr_tail_(std::move(stderr_tail)) {}

}  // namespace dvm::v0
