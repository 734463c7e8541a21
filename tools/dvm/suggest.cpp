#include "suggest.hpp"

#include "config/suggest.hpp"

#include <algorithm>

namespace dvm_cli {

using dvm::edit_distance;  // libdvm's, as in its config error hints

std::vector<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::vector<std::string> out;
  if (word.size() >= 2) {
    for (const auto& c : candidates) {
      if (c.starts_with(word)) out.push_back(c);
    }
    if (!out.empty()) return out;
  }
  std::size_t limit = word.size() <= 4 ? 1 : 2;
  std::size_t best = limit + 1;
  for (const auto& c : candidates) best = std::min(best, edit_distance(word, c));
  if (best > limit) return out;
  for (const auto& c : candidates) {
    if (edit_distance(word, c) == best) out.push_back(c);
  }
  return out;
}

std::string did_you_mean(const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string out = "did you mean ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += "\"" + names[i] + "\"";
  }
  return out + "?";
}

}  // namespace dvm_cli
