// Presentation of libdvm results: text for people, one JSON document (with a schema version)
// for programs. Nothing here decides anything; it only formats.
#pragma once

#include <dvm/client.hpp>
#include <dvm/error.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace dvm_cli {

/// Version of every JSON document and event line the CLI prints.
inline constexpr int json_schema = 2;

/// Prints one JSON document (schema added) on stdout.
void print_json(boost::json::object document);
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
