// The unsaved-work check's verdict (guest/scripts.hpp, dirty_check_script): read from its
// output, merged across code dirs, and written out for the refusal `dvm rm` gives.
#pragma once

#include <dvm/client.hpp>
#include <dvm/process.hpp>

#include <string>

namespace dvm::inline v0::detail {

/// The check's output as a report. Only output that ends with the nonce line is a verdict:
/// anything else (a login profile that exits early, a killed shell) makes the report incomplete.
dirty_report read_dirty_report(const process_result& r, const std::string& nonce);

/// Adds the findings of a check of another code dir to `into`, with that dir before each path.
void merge_dirty_report(dirty_report& into, dirty_report other, const std::string& code_dir);

/// The findings, one indented line each (each line starts with a newline).
std::string format_dirty_report(const dirty_report& report);

}  // namespace dvm::v0::detail
