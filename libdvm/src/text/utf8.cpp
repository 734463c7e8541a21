#include "text/utf8.hpp"

namespace dvm::inline v0::detail {

std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  auto continuation = [&](std::size_t k) { return i + k < text.size() && (byte(k) & 0xc0) == 0x80; };
  unsigned char c = byte(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  // 0xc0 and 0xc1 could only start overlong forms of ASCII; 0xf5 and above, values past U+10FFFF.
  if (c >= 0xc2 && c <= 0xdf && continuation(1)) {
    cp = static_cast<char32_t>(((c & 0x1fU) << 6) | (byte(1) & 0x3fU));
    return 2;
  }
  if (c >= 0xe0 && c <= 0xef && continuation(1) && continuation(2)) {
    cp = static_cast<char32_t>(((c & 0x0fU) << 12) | ((byte(1) & 0x3fU) << 6) | (byte(2) & 0x3fU));
    return cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : 3;
  }
  if (c >= 0xf0 && c <= 0xf4 && continuation(1) && continuation(2) && continuation(3)) {
    cp = static_cast<char32_t>(((c & 0x07U) << 18) | ((byte(1) & 0x3fU) << 12) |
                               ((byte(2) & 0x3fU) << 6) | (byte(3) & 0x3fU));
    return cp < 0x10000 || cp > 0x10ffff ? 0 : 4;
  }
  return 0;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  auto put = [&](char32_t bits) { out += static_cast<char>(bits); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xc0 | (cp >> 6));
    put(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    put(0xe0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3f));
    put(0x80 | (cp & 0x3f));
  } else {
    put(0xf0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3f));
    put(0x80 | ((cp >> 6) & 0x3f));
    put(0x80 | (cp & 0x3f));
  }
}

bool is_valid_utf8(std::string_view text) {
  char32_t cp = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = decode_utf8(text, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace dvm::v0::detail
