// The one UTF-8 decoder and encoder (libdvm/src/text/utf8.hpp): strict in both directions.
#include <doctest/doctest.h>

#include "text/utf8.hpp"

#include <string>
#include <string_view>

using dvm::detail::append_utf8;
using dvm::detail::decode_utf8;
using dvm::detail::is_valid_utf8;

namespace {

// decode_utf8 at the start of `bytes`: the length, and the code point when there is one.
struct decoded {
  std::size_t length;
  char32_t cp;
};
decoded decode(std::string_view bytes) {
  char32_t cp = 0xdead;
  std::size_t n = decode_utf8(bytes, 0, cp);
  return {n, n == 0 ? char32_t{0} : cp};
}

}  // namespace

TEST_CASE("UTF-8: valid 1 to 4 byte sequences decode to their code point, at every boundary") {
  struct sample {
    std::string_view bytes;
    char32_t cp;
  };
  const sample samples[] = {
      {std::string_view("\0", 1), 0x0},  {"A", 0x41},
      {"\x7f", 0x7f},                    {"\xc2\x80", 0x80},
      {"\xc3\xa9", 0xe9},                {"\xdf\xbf", 0x7ff},
      {"\xe0\xa0\x80", 0x800},           {"\xe2\x82\xac", 0x20ac},
      {"\xed\x9f\xbf", 0xd7ff},          {"\xee\x80\x80", 0xe000},
      {"\xef\xbf\xbf", 0xffff},          {"\xf0\x90\x80\x80", 0x10000},
      {"\xf0\x9f\x98\x80", 0x1f600},     {"\xf4\x8f\xbf\xbf", 0x10ffff},
  };
  for (const auto& s : samples) {
    CAPTURE(static_cast<unsigned long>(s.cp));
    decoded d = decode(s.bytes);
    CHECK(d.length == s.bytes.size());
    CHECK(d.cp == s.cp);
    CHECK(is_valid_utf8(s.bytes));
    std::string encoded;
    append_utf8(encoded, s.cp);
    CHECK(encoded == s.bytes);
  }
  // Decoding starts at i and reads only the sequence there.
  char32_t cp = 0;
  CHECK(decode_utf8("ab\xe2\x82\xac!", 2, cp) == 3);
  CHECK(cp == 0x20ac);
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac"));
}

TEST_CASE("UTF-8: overlong forms are not UTF-8") {
  for (std::string_view bytes : {"\xc0\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
                                 "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf"}) {
    CAPTURE(bytes);
    CHECK(decode(bytes).length == 0);
    CHECK_FALSE(is_valid_utf8(bytes));
  }
}

TEST_CASE("UTF-8: surrogates are not UTF-8, and are encoded as U+FFFD") {
  for (std::string_view bytes : {"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xb0\x80", "\xed\xbf\xbf"}) {
    CAPTURE(bytes);
    CHECK(decode(bytes).length == 0);
    CHECK_FALSE(is_valid_utf8(bytes));
  }
  for (char32_t cp : {char32_t{0xd800}, char32_t{0xdbff}, char32_t{0xdc00}, char32_t{0xdfff}}) {
    std::string out = "x";
    append_utf8(out, cp);
    CHECK(out == "x\xef\xbf\xbd");
  }
}

TEST_CASE("UTF-8: code points above U+10FFFF are not UTF-8, and are encoded as U+FFFD") {
  for (std::string_view bytes : {"\xf4\x90\x80\x80", "\xf4\xbf\xbf\xbf", "\xf5\x80\x80\x80",
                                 "\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80", "\xfe", "\xff"}) {
    CAPTURE(bytes);
    CHECK(decode(bytes).length == 0);
    CHECK_FALSE(is_valid_utf8(bytes));
  }
  for (char32_t cp : {char32_t{0x110000}, char32_t{0x1fffff}, char32_t{0xffffffff}}) {
    std::string out;
    append_utf8(out, cp);
    CHECK(out == "\xef\xbf\xbd");
  }
}

TEST_CASE("UTF-8: truncated sequences and stray continuation bytes are not UTF-8") {
  for (std::string_view bytes : {"\xc3", "\xe2\x82", "\xe2", "\xf0\x9f\x98", "\xf0\x9f", "\xf0",
                                 "\x80", "\xbf", "\xc3\x41", "\xe2\x82\x41", "\xf0\x9f\x98\x41",
                                 "\xe2\xc3\xa9"}) {
    CAPTURE(bytes);
    CHECK(decode(bytes).length == 0);
    CHECK_FALSE(is_valid_utf8(bytes));
  }
  // The end of the view ends the sequence, even when the bytes go on behind it.
  std::string_view cut = std::string_view("\xe2\x82\xac", 3).substr(0, 2);
  CHECK(decode(cut).length == 0);
  char32_t cp = 0;
  CHECK(decode_utf8("ok\xe2\x82", 2, cp) == 0);
  // One bad byte anywhere makes the whole text invalid.
  CHECK_FALSE(is_valid_utf8("caf\xc3\xa9 \xe2\x82"));
  CHECK_FALSE(is_valid_utf8("\xff" "abc"));
}
