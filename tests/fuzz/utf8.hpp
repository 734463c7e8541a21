// Strict UTF-8 for the fuzz targets' invariants (independent of the code under test).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dvm_fuzz {

/// The length of the strict UTF-8 sequence (no overlong forms, no surrogates, <= U+10FFFF) that
/// starts at s[i], and its code point; 0 when none does.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xc2 && c <= 0xdf && cont(1)) {
    cp = static_cast<char32_t>(((c & 0x1f) << 6) | (b(1) & 0x3f));
    return 2;
  }
  if (c >= 0xe0 && c <= 0xef && cont(1) && cont(2)) {
    cp = static_cast<char32_t>(((c & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f));
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4 && cont(1) && cont(2) && cont(3)) {
    cp = static_cast<char32_t>(((c & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) |
                               (b(3) & 0x3f));
    if (cp < 0x10000 || cp > 0x10ffff) return 0;
    return 4;
  }
  return 0;
}

inline bool valid_utf8(std::string_view s) {
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

/// The text with every byte that does not start a strict UTF-8 sequence read as Latin-1
/// (U+0080..U+00FF): what a YAML document can carry for it.
inline std::string latin1_fallback(std::string_view s) {
  std::string out;
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i, cp);
    if (n == 0) {
      append_utf8(out, static_cast<unsigned char>(s[i]));
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace dvm_fuzz
