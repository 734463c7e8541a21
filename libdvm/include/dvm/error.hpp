// Errors thrown by libdvm. Every error carries a stable code (dvm::errc) that maps one-to-one to
// a CLI exit code and to the "code" string of the JSON error object. A guest command that exits
// non-zero is NOT an error: it is data (see dvm::exec_result).
#pragma once

#include <dvm/export.hpp>

#include <filesystem>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace dvm::inline v0 {

/// Stable error codes. The numeric values are not part of the contract; the names (errc_name)
/// and the exit codes (exit_code) are.
enum class errc {
  usage,         ///< bad command-line or API arguments; nothing was done (exit 2)
  config,        ///< a config file does not validate; nothing was done (exit 2)
  not_found,     ///< no such VM is configured (exit 2)
  not_created,   ///< the VM is configured but its Lima instance does not exist (exit 1)
  not_running,   ///< the operation needs a running VM (exit 1)
  lima_missing,  ///< limactl was not found or cannot be run (exit 3)
  lima_version,  ///< limactl is older than 2.0.0 (exit 3)
  lima_failed,   ///< a limactl call failed (exit 1)
  guest_failed,  ///< a guest-side step failed, e.g. a recipe (exit 1)
  timeout,       ///< a limactl call ran past its time limit and was killed (exit 1)
  busy,          ///< another dvm process holds the VM's lock (exit 1)
  refused,       ///< a safety check refused the operation, e.g. unsaved work on rm (exit 1)
  cancelled,     ///< interrupted by a signal or by the caller (exit 130)
  io,            ///< a host file could not be read or written (exit 1)
  internal,      ///< a bug in dvm (exit 1)
};

/// The JSON/Python name of a code, e.g. "config" or "lima_failed".
DVM_EXPORT std::string_view errc_name(errc code) noexcept;
/// The same name (as to_string of dvm's other enums), and printed by operator<<.
DVM_EXPORT std::string_view to_string(errc code) noexcept;
DVM_EXPORT std::ostream& operator<<(std::ostream& out, errc code);
/// The CLI exit code of an error code: 2 for usage/config/not_found, 3 for limactl missing or too
/// old, 130 for cancelled, 1 otherwise.
DVM_EXPORT int exit_code(errc code) noexcept;

/// Base class of every exception libdvm throws on purpose.
class DVM_EXPORT error : public std::runtime_error {
 public:
  /// `message` is what what() returns; the CLI prints it as "dvm: error: <message>".
  error(errc code, const std::string& message);
  /// An error with the operating system's cause (errc::io: the errno of the failed call).
  error(errc code, const std::string& message, std::error_code cause);
  errc code() const noexcept { return code_; }
  int exit_code() const noexcept { return dvm::exit_code(code_); }
  /// What the operating system said, e.g. std::errc::no_space_on_device for a full disk, so a
  /// caller can tell ENOSPC from EACCES; empty when the error has no such cause.
  const std::error_code& cause() const noexcept { return cause_; }

 private:
  errc code_;
  std::error_code cause_;
};

/// A config file that does not validate. what() reads
/// "<file>:<line>:<column>: <key path>: <rule broken>".
class DVM_EXPORT config_error : public error {
 public:
  config_error(std::filesystem::path file, int line, int column, std::string key_path,
               std::string rule);
  const std::filesystem::path& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }      ///< 1-based; 0 when unknown
  int column() const noexcept { return column_; }  ///< 1-based; 0 when unknown
  const std::string& key_path() const noexcept { return key_path_; }  ///< e.g. "ports[1]"
  const std::string& rule() const noexcept { return rule_; }  ///< the message without location

 private:
  std::filesystem::path file_;
  int line_;
  int column_;
  std::string key_path_;
  std::string rule_;
};

/// A limactl call that failed (errc::lima_failed or errc::timeout), or limactl missing/too old.
class DVM_EXPORT lima_error : public error {
 public:
  lima_error(errc code, std::string subcommand, int exit_status, std::string stderr_tail,
             const std::string& message);
  const std::string& subcommand() const noexcept { return subcommand_; }  ///< e.g. "start"
  int exit_status() const noexcept { return exit_status_; }  ///< -1 when it did not exit
  const std::string& stderr_tail() const noexcept { return stderr_tail_; }

 private:
  std::string subcommand_;
  int exit_status_;
  std::string stderr_tail_;
};

}  // namespace dvm::v0
