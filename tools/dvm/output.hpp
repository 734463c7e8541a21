// Presentation of libdvm results: text for people, one JSON document (with a schema version)
// for programs. Nothing here decides anything; it only formats.
#pragma once

#include <dvm/client.hpp>
#include <dvm/error.hpp>

#include <boost/json/value.hpp>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace dvm_cli {

/// Version of every JSON document and event line the CLI prints.
inline constexpr int json_schema = 2;

/// A command's text for people: `out` is stdout, `err` is stderr.
using text_writer = std::function<void(std::ostream& out, std::ostream& err)>;

/// How results reach the user: text for people or JSON for programs, chosen once from --json
/// (formatter_for). A command hands each result over in both forms and never tests --json
/// itself; the text is only produced when it is printed.
class formatter {
 public:
  virtual ~formatter() = default;
  /// The command's result: `document` (an object gets "schema" first) or the text.
  virtual void result(boost::json::value document, const text_writer& text) const = 0;
  /// The result of a command whose text was already shown (progress): only the document.
  void result(boost::json::value document) const { result(std::move(document), [](std::ostream&, std::ostream&) {}); }
  /// Text shown as work goes on (a line per VM of `start --all`); JSON has the result only.
  virtual void progress(const text_writer& text) const = 0;
  /// A failed command: {"schema", "error": {...}} on stdout, or "dvm: error: ..." on stderr.
  virtual void error(const dvm::error& e) const = 0;
  /// Events as JSON lines (true) or through the live view and plain lines (false).
  virtual bool machine_readable() const noexcept = 0;
};

/// The JSON formatter for --json, else the text formatter.
const formatter& formatter_for(bool json);

/// The error object {"schema": 2, "error": {"code", "message", ...}}.
boost::json::object error_json(const dvm::error& e);

/// One VM as `status --json` prints it and `ls --json` lists it (with "schema"), with the
/// field names of dvm::vm_status.
boost::json::object vm_json(const dvm::vm_status& s);
boost::json::object to_json(const dvm::sync_result& r);
boost::json::object to_json(const dvm::plan_result& p);
boost::json::object to_json(const dvm::dirty_report& r);
boost::json::array to_json(const std::vector<dvm::port_forward>& ports);

/// "2GiB", "512MiB", "-" for 0.
std::string human_size(std::uint64_t bytes);
/// Left-aligned columns separated by two spaces.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace dvm_cli
