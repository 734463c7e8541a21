// Quoting for POSIX shells: the one function libdvm puts every value through before it goes
// into shell text, for programs that write shell text too (dvm's completion scripts).
#pragma once

#include <dvm/export.hpp>

#include <string>
#include <string_view>

namespace dvm::inline v0 {

/// A POSIX shell word that expands to exactly `value`: bare when made only of safe characters
/// ([A-Za-z0-9_@%+=:,./-]), otherwise single-quoted with ' written as '\''. Throws
/// std::invalid_argument for a NUL byte, which no shell word can hold.
DVM_EXPORT std::string shell_quote(std::string_view value);

}  // namespace dvm::v0
