#include "guest/output.hpp"

namespace dvm::detail {

std::vector<std::pair<std::string, std::string>> tab_fields(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& line : split_lines(text)) {
    std::size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

}  // namespace dvm::detail
