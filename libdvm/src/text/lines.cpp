#include "text/lines.hpp"

#include <sstream>

namespace dvm::inline v0::detail {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string join_last(const std::vector<std::string>& lines, std::size_t n) {
  std::string out;
  std::size_t first = lines.size() > n ? lines.size() - n : 0;
  for (std::size_t i = first; i < lines.size(); ++i) {
    if (!out.empty()) out += '\n';
    out += lines[i];
  }
  return out;
}

}  // namespace dvm::v0::detail
