// The one shell-quoting function. Every user value that goes into a guest script goes through
// shell_quote(); no script pastes user text by hand.
#pragma once

#include <string>
#include <string_view>

namespace dvm::detail {

/// A POSIX shell word that expands to exactly `value`: bare when made only of safe characters
/// ([A-Za-z0-9_@%+=:,./-]), otherwise single-quoted with ' written as '\''. Throws
/// std::invalid_argument for a NUL byte, which no shell word can hold.
std::string shell_quote(std::string_view value);

/// A guest shell expression for a guest path that may start with "~": "$HOME" or
/// "$HOME"/'rest', so the guest expands the home and nothing else.
std::string guest_path_expression(std::string_view path);

}  // namespace dvm::detail
