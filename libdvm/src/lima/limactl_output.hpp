// Reading what limactl prints: its logrus records on stderr (relayed as progress, or cut down to
// the tail an error carries) and its version. The calls themselves are in driver.hpp.
#pragma once

#include <dvm/events.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

/// Parses "limactl version 2.0.3" (or a git-describe form); nullopt when there is no x.y.z.
std::optional<std::string> parse_limactl_version(std::string_view output);
/// a >= b for "x.y.z" strings.
bool version_at_least(std::string_view version, std::string_view minimum);

/// One record of limactl's logrus output on stderr.
struct log_record {
  std::string level;  ///< "info", "warning", "error", "fatal", ... ("" when the record has none)
  std::string msg;
};
/// A logfmt line (logrus's TextFormatter, as limactl writes it without a terminal:
/// `time="..." level=info msg="Starting the instance \"x\""`) or a JSON line; nullopt for any
/// other line, or a record without msg.
std::optional<log_record> parse_log_record(std::string_view line);
/// The text of a Go %q-quoted string, without its enclosing quotes (strconv.Unquote's escapes:
/// \a \b \f \n \r \t \v \\ \" \xhh \ooo \uhhhh \Uhhhhhhhh).
std::string go_unquote(std::string_view body);

/// The last `max_lines` meaningful messages of limactl stderr output (logfmt or JSON lines):
/// the msg of each record when it is a structured record, else the raw line.
std::string stderr_tail(std::string_view text, std::size_t max_lines = 6);

/// limactl's logrus lines on stderr, relayed as they arrive: info lines as lima_progress events
/// (the image download, the boot requirements, "READY"). Warnings and errors become warning
/// events once the call has succeeded; when it fails they are in its error (stderr_tail), and
/// shown once. Fatal lines always end the call, so they are only in the error.
class progress_relay {
 public:
  /// `emit` (which may be empty) must outlive the relay.
  progress_relay(const std::function<void(event)>& emit, std::string vm, std::string subcommand);

  /// The stderr callback for the call.
  std::function<void(std::string_view)> sink();
  /// After the call: relays a last line without a newline, then, when it succeeded, the warnings.
  void finish(bool succeeded);

 private:
  void feed(std::string_view chunk);
  void line(std::string_view text);

  const std::function<void(event)>& emit_;
  std::string vm_;
  std::string subcommand_;
  std::chrono::steady_clock::time_point started_;
  std::string partial_;
  std::vector<std::string> warnings_;
};

}  // namespace dvm::v0::detail
