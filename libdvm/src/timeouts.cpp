// DVM_TIMEOUT's value (the CLI's cap on every limactl time limit; dvm::validate checks it too).
#include <dvm/timeouts.hpp>

#include <dvm/error.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace dvm::inline v0 {

std::optional<std::chrono::milliseconds> parse_timeout_cap(std::string_view text) {
  if (text.empty()) return std::nullopt;  // empty is unset, as for NO_COLOR
  // Digits only (with an optional fraction): no signs, exponents, "inf", hex or spaces.
  const bool plain = text.find_first_not_of("0123456789.") == std::string_view::npos;
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds,
                                   std::chars_format::fixed);
  if (!plain || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds <= 0 || seconds > 86400.0 * 365) {
    throw error(errc::usage, "DVM_TIMEOUT=\"" + std::string(text) +
                                 "\" is not valid: it must be a positive number of seconds "
                                 "(e.g. DVM_TIMEOUT=120), or unset");
  }
  return std::chrono::milliseconds{std::max<long long>(1, std::llround(seconds * 1000))};
}

}  // namespace dvm::v0
