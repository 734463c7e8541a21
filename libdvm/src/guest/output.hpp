// Reading what a guest script printed: its "key<TAB>value" records and the status it ended
// with (its lines and their tail: text/lines.hpp).
#pragma once

#include <dvm/process.hpp>

#include "text/lines.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvm::inline v0::detail {

/// The "key\tvalue" lines of `text`, in order; other lines are skipped.
std::vector<std::pair<std::string, std::string>> tab_fields(const std::string& text);

/// A decimal count a guest script printed; 0 for anything else (guest output is data).
std::uint64_t parse_count(std::string_view text) noexcept;

/// The exit status as a shell reports it: the code, or 128 + the signal that ended the process.
inline int exit_status(const process_result& r) { return r.exit_code >= 0 ? r.exit_code : 128 + r.term_signal; }

}  // namespace dvm::v0::detail
