// Sizes for memory and disk, with Lima's binary units (go-units RAMInBytes: K = KiB).
#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include <array>
#include <limits>
#include <numeric>

namespace dvm::inline v0 {

namespace {
struct unit {
  std::string_view name;
  std::uint64_t factor;
};
constexpr std::uint64_t KiB = 1024;
constexpr std::array<unit, 8> units = {{{"KiB", KiB},
                                        {"MiB", KiB * KiB},
                                        {"GiB", KiB * KiB * KiB},
                                        {"TiB", KiB * KiB * KiB * KiB},
                                        {"K", KiB},
                                        {"M", KiB * KiB},
                                        {"G", KiB * KiB * KiB},
                                        {"T", KiB * KiB * KiB * KiB}}};

[[noreturn]] void bad_size(std::string_view text, std::string_view why) {
  throw error(errc::config, "invalid size \"" + std::string(text) + "\": " + std::string(why));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

std::uint64_t parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t whole = 0;
  const auto max = std::numeric_limits<std::uint64_t>::max();
  if (text.empty() || !is_digit(text[0])) bad_size(text, "expected a number followed by a unit such as \"4GiB\"");
  if (text.size() > 1 && text[0] == '0' && is_digit(text[1])) bad_size(text, "leading zeros are not allowed");
  for (; i < text.size() && is_digit(text[i]); ++i) {
    auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (whole > (max - digit) / 10) bad_size(text, "too large");
    whole = whole * 10 + digit;
  }
  // Fraction as an exact ratio numerator/denominator, at most 9 digits.
  std::uint64_t numerator = 0;
  std::uint64_t denominator = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    std::size_t start = i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      if (i - start >= 9) bad_size(text, "at most 9 decimal places");
      numerator = numerator * 10 + static_cast<std::uint64_t>(text[i] - '0');
      denominator *= 10;
    }
    if (i == start) bad_size(text, "expected digits after the decimal point");
  }
  std::string_view suffix = text.substr(i);
  std::uint64_t factor = 1;
  if (!suffix.empty()) {
    bool found = false;
    for (const auto& u : units) {
      if (u.name == suffix) {
        factor = u.factor;
        found = true;
        break;
      }
    }
    if (!found) bad_size(text, "unknown unit \"" + std::string(suffix) + "\" (use KiB, MiB, GiB, TiB, K, M, G, T, or no unit for bytes)");
  }
  if (whole > max / factor) bad_size(text, "too large");
  std::uint64_t bytes = whole * factor;
  if (numerator != 0) {
    // numerator * factor / denominator, exactly and without overflow (numerator * factor can
    // exceed 2^64 for T with 8 or 9 decimals): with the common factor cancelled, the product is
    // whole only if the reduced denominator divides numerator, and it is below factor <= 2^40.
    std::uint64_t common = std::gcd(factor, denominator);
    std::uint64_t reduced = denominator / common;
    if (numerator % reduced != 0) bad_size(text, "is not a whole number of bytes");
    std::uint64_t part = numerator / reduced * (factor / common);
    if (bytes > max - part) bad_size(text, "too large");
    bytes += part;
  }
  if (bytes == 0) bad_size(text, "must be greater than zero");
  return bytes;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<unit, 4> binary = {{{"TiB", KiB * KiB * KiB * KiB},
                                                  {"GiB", KiB * KiB * KiB},
                                                  {"MiB", KiB * KiB},
                                                  {"KiB", KiB}}};
  if (bytes != 0) {
    for (const auto& u : binary) {
      if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
    }
  }
  return std::to_string(bytes);
}

}  // namespace dvm::v0
