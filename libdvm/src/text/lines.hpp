// Text as lines and lists: splitting, joining, and the last few lines that an error message quotes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0::detail {

std::vector<std::string> split_lines(const std::string& text);

/// `items` with `separator` between them.
std::string join(const std::vector<std::string>& items, std::string_view separator);

/// The last `n` of `lines`, joined with newlines.
std::string join_last(const std::vector<std::string>& lines, std::size_t n);

/// The last `n` lines of `text`, joined with newlines.
inline std::string last_lines(const std::string& text, std::size_t n) { return join_last(split_lines(text), n); }

}  // namespace dvm::v0::detail
