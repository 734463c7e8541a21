// The one UTF-8 decoder and encoder of libdvm. Strict: overlong forms, surrogates (U+D800 to
// U+DFFF) and code points above U+10FFFF are never valid, in either direction.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dvm::inline v0::detail {

/// The code point of the UTF-8 sequence that starts at text[i], in `cp`, and the sequence's
/// length (1 to 4); 0, with `cp` unspecified, when text[i] starts no valid sequence (a
/// continuation byte, an overlong form, a surrogate, more than U+10FFFF, or a sequence cut off by
/// the end of `text`). `i` must be less than text.size().
std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& cp);

/// Appends the UTF-8 encoding of `cp`; a surrogate or a value above U+10FFFF, which UTF-8
/// cannot hold, is written as U+FFFD.
void append_utf8(std::string& out, char32_t cp);

/// Whether all of `text` is valid UTF-8 (as decode_utf8 reads it).
bool is_valid_utf8(std::string_view text);

}  // namespace dvm::v0::detail
