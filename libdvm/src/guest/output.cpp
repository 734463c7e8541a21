#include "guest/output.hpp"

#include <charconv>

namespace dvm::inline v0::detail {

std::vector<std::pair<std::string, std::string>> tab_fields(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& line : split_lines(text)) {
    std::size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

std::uint64_t parse_count(std::string_view text) noexcept {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return 0;
  return value;
}

}  // namespace dvm::v0::detail
