// "Did you mean ...?" for a mistyped command name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dvm_cli {

/// The candidates closest to `word`: those that start with it (a command typed half-way), else
/// those at the smallest edit distance (with transpositions) when that is a likely typo (at most
/// 1 for words of up to 4 characters, 2 for longer ones). In the order of `candidates`.
std::vector<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

/// `did you mean "a" or "b"?`, or "" for no candidates.
std::string did_you_mean(const std::vector<std::string>& names);

}  // namespace dvm_cli
