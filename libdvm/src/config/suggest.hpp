// "Did you mean ...?" hints for unknown keys, recipes and recipe sets.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dvm::inline v0 {

/// Insertions, deletions, substitutions and swaps of two neighbours ("stauts" -> "status" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` (edit distance with transpositions) when it is close enough
/// to be a likely typo: distance 1 for short words, 2 for words of 5 or more characters.
std::optional<std::string> suggest(std::string_view word, std::span<const std::string_view> candidates);

inline std::optional<std::string> suggest(std::string_view word,
                                          const std::vector<std::string_view>& candidates) {
  return suggest(word, std::span<const std::string_view>(candidates));
}

}  // namespace dvm::v0
