// Presentation of libdvm results: text for people, one JSON document (with a schema version)
// for programs. Nothing here decides anything; it only formats.
#pragma once

#include <dvm/client.hpp>
#include <dvm/error.hpp>

#include <dvm_fields.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
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

namespace detail {

template <class T>
boost::json::value json_value(const T& value);

/// Renders the fields of a description (dvm_fields.hpp) into a JSON object, by the rules
/// written there: durations as integer milliseconds under "<key>_ms", the JSON names of keys
/// that kept a schema-1 name, and the JSON-only / null / omitted rules of the key.
class json_fields {
 public:
  explicit json_fields(boost::json::object& out) noexcept : out_(out) {}

  template <class T>
  void field(const dvm::fields::key& k, const T& value) {
    if (!k.in_json()) return;
    const bool empty = dvm::fields::is_empty(value);
    if (empty && k.json_omit_if_empty()) return;
    std::string name(k.json_name());
    if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
      out_[name + "_ms"] = value.count();
    } else {
      if (empty && k.json_null_if_empty()) {
        out_[name] = nullptr;
      } else {
        out_[name] = json_value(value);
      }
    }
  }

 private:
  boost::json::object& out_;
};

template <class T>
boost::json::value json_value(const T& value) {
  if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return boost::json::value(value.string());
  } else if constexpr (std::is_same_v<T, std::string>) {
    return boost::json::value(value);
  } else if constexpr (std::is_enum_v<T>) {  // libdvm's enums: their to_string name
    return boost::json::value(to_string(value));
  } else if constexpr (std::is_arithmetic_v<T>) {  // bool and the integers
    return boost::json::value(value);
  } else if constexpr (requires { value.has_value(); }) {
    if (!value) return boost::json::value(nullptr);
    return json_value(*value);
  } else if constexpr (requires { value.begin(); }) {
    boost::json::array out;
    for (const auto& item : value) out.push_back(json_value(item));
    return out;
  } else {
    boost::json::object out;
    json_fields visitor(out);
    dvm::fields::describe(value, visitor);
    return out;
  }
}

}  // namespace detail

/// A libdvm result as a JSON object, with the field names of its description (dvm_fields.hpp).
template <class T>
boost::json::object to_json(const T& value) {
  boost::json::object out;
  detail::json_fields visitor(out);
  dvm::fields::describe(value, visitor);
  return out;
}

/// Libdvm results as a JSON array of such objects.
template <class T>
boost::json::array to_json_list(const std::vector<T>& values) {
  boost::json::array out;
  for (const auto& value : values) out.push_back(to_json(value));
  return out;
}

/// The error object {"schema": 2, "error": {"code", "message", ...}}.
boost::json::object error_json(const dvm::error& e);

/// One VM as `status --json` prints it and `ls --json` lists it (with "schema"), with the
/// field names of dvm::vm_status.
boost::json::object vm_json(const dvm::vm_status& s);

/// "2GiB", "512MiB", "-" for 0.
std::string human_size(std::uint64_t bytes);

/// What the next sync does with a recipe and why: "runs (changed)", "skipped (unchanged since
/// 2026-12-02 21:50 UTC)", ... (plan and status).
std::string recipe_state_text(const dvm::recipe_state& r);
/// Left-aligned columns separated by two spaces.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace dvm_cli
