// Size parsing: parse_size() accepts exactly the documented grammar, computes the exact value
// (checked against an independent 128-bit reference), and parse_size(format_size(x)) == x.
#include "fuzz_target.hpp"

#include <dvm/config.hpp>
#include <dvm/error.hpp>

#include <array>
#include <cstring>
#include <optional>

namespace {

__extension__ typedef unsigned __int128 u128;

bool digit(char c) { return c >= '0' && c <= '9'; }

// "<digits>[.<1..9 digits>][unit]", no leading zero before another digit, value in 1..2^64-1
// and a whole number of bytes.
std::optional<std::uint64_t> reference(std::string_view t) {
  std::size_t i = 0;
  u128 whole = 0;
  while (i < t.size() && digit(t[i])) {
    whole = whole * 10 + static_cast<unsigned>(t[i] - '0');
    if (whole > ~std::uint64_t{0}) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  if (i > 1 && t[0] == '0') return std::nullopt;
  u128 num = 0;
  u128 den = 1;
  if (i < t.size() && t[i] == '.') {
    std::size_t start = ++i;
    while (i < t.size() && digit(t[i])) {
      num = num * 10 + static_cast<unsigned>(t[i] - '0');
      den *= 10;
      ++i;
    }
    if (i == start || i - start > 9) return std::nullopt;
  }
  std::string_view unit = t.substr(i);
  static constexpr std::array<std::pair<std::string_view, int>, 9> units = {{
      {"", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20},
      {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}}};
  int shift = -1;
  for (const auto& [name, s] : units) {
    if (name == unit) shift = s;
  }
  if (shift < 0) return std::nullopt;
  u128 factor = u128{1} << shift;
  u128 frac = num * factor;
  if (frac % den != 0) return std::nullopt;
  u128 total = whole * factor + frac / den;
  if (total == 0 || total > ~std::uint64_t{0}) return std::nullopt;
  return static_cast<std::uint64_t>(total);
}

std::optional<std::uint64_t> parse(std::string_view text) {
  try {
    return dvm::parse_size(text);
  } catch (const dvm::error& e) {
    DVM_FUZZ_CHECK(e.code() == dvm::errc::config);
    DVM_FUZZ_CHECK(std::string_view(e.what()).starts_with("invalid size \""));
    return std::nullopt;
  }
}

void check_round_trip(std::uint64_t x) {
  std::string text = dvm::format_size(x);
  if (x == 0) {
    DVM_FUZZ_CHECK(text == "0");
    return;
  }
  auto back = parse(text);
  DVM_FUZZ_CHECK_MSG(back && *back == x, text);
  // The shortest exact form: no larger unit divides the value.
  DVM_FUZZ_CHECK(reference(text) == x);
}

// x / 2^shift as "<whole>.<digits><unit>", with the fraction cut after `max_digits` digits:
// exact decimal forms with large fractions, which random text rarely hits.
std::string decimal(std::uint64_t x, int shift, std::string_view unit, int max_digits) {
  std::uint64_t mask = (std::uint64_t{1} << shift) - 1;
  std::string out = std::to_string(x >> shift);
  std::uint64_t rem = x & mask;
  if (rem != 0) out += '.';
  for (int i = 0; rem != 0 && i < max_digits; ++i) {
    rem *= 10;  // rem < 2^40, so no overflow
    out += static_cast<char>('0' + (rem >> shift));
    rem &= mask;
  }
  return out + std::string(unit);
}

void check_same(std::string_view text) {
  auto got = parse(text);
  auto want = reference(text);
  DVM_FUZZ_CHECK_MSG(got == want, "\"" + std::string(text) + "\": parse_size gives " +
                                      (got ? std::to_string(*got) : "an error") +
                                      ", the reference " + (want ? std::to_string(*want) : "an error"));
}

}  // namespace

DVM_FUZZ_TARGET(size) {
  std::string_view text = dvm_fuzz::as_text(data, size);
  check_same(text);
  if (auto got = parse(text)) check_round_trip(*got);
  if (size >= 9) {
    std::uint64_t x = 0;
    std::memcpy(&x, data, sizeof x);
    check_round_trip(x);
    check_round_trip(x >> (x & 63));
    static constexpr std::array<std::pair<std::string_view, int>, 8> units = {{
        {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}}};
    const auto& [unit, shift] = units[data[8] % units.size()];
    check_same(decimal(x, shift, unit, 9));
    check_same(decimal(x >> (data[8] >> 2), shift, unit, 9));
  }
  return 0;
}
