// The one shell-quoting function. Every user value that goes into a guest script goes through
// shell_quote(); no script pastes user text by hand.
#pragma once

#include <dvm/shell.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace dvm::inline v0::detail {

/// dvm::shell_quote (<dvm/shell.hpp>), under the name the library's own code uses.
using dvm::shell_quote;

/// A guest shell expression for a guest path that may start with "~": "$HOME" or
/// "$HOME"/'rest', so the guest expands the home and nothing else.
std::string guest_path_expression(std::string_view path);
/// The inverse of guest_path_expression ("~/rest" or the absolute path); nullopt for a word it
/// did not write.
std::optional<std::string> decode_guest_path_expression(std::string_view text);

/// The text of the embedded guest script libdvm/guest/<name>.sh as it is sent: the file without
/// its header, the comment lines up to and including "# shellcheck shell=bash" (a "#!" first
/// line is kept). Throws std::logic_error for an unknown name or a file without that header.
std::string guest_script(std::string_view name);

/// The first lines of every program and script dvm runs in the guest: guest_script
/// ("safe-environment"), which keeps only root-owned directories on PATH and clears BASH_ENV,
/// ENV, CDPATH and GLOBIGNORE (SECURITY.md, "Threat model inside the guest"). The scripts
/// themselves run as `/bin/bash -p -s` (guest_bash_command()), so bash takes no functions or
/// options from the environment either.
std::string safe_guest_environment();

}  // namespace dvm::v0::detail
