// The one shell-quoting function. Every user value that goes into a guest script goes through
// shell_quote(); no script pastes user text by hand.
#pragma once

#include <optional>
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
/// The inverse of guest_path_expression ("~/rest" or the absolute path); nullopt for a word it
/// did not write.
std::optional<std::string> decode_guest_path_expression(std::string_view text);

/// The first lines of every program and script dvm runs in the guest (SECURITY.md, "Threat
/// model inside the guest"). The main user's login shell may have put a directory the agent can
/// write (the code dir, ~/.local/bin holding a link into it) on PATH, so PATH keeps, in order, only
/// the directories of the login PATH that are owned by root and writable by nobody else all the
/// way up (the stand-ins of a test guest, say), followed by the usual system directories; the
/// variables that make bash read or run something else (BASH_ENV, ENV, CDPATH, GLOBIGNORE) are
/// cleared. realpath and stat are called by absolute path, before any PATH lookup. The scripts
/// themselves run as `/bin/bash -p -s` (guest_bash_command()), so bash takes no functions or
/// options from the environment either.
inline constexpr std::string_view safe_guest_environment = R"SH(__dvm_safe_path() {
  local IFS=: d p s mode out='' ok
  local -a dirs=()
  read -r -a dirs <<<"${PATH:-}" || true
  for d in "${dirs[@]}" /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    case $d in /*) ;; *) continue ;; esac
    p=$(/usr/bin/realpath -e -- "$d" 2>/dev/null) || continue
    [ -d "$p" ] || continue
    case ":$out:" in *":$p:"*) continue ;; esac
    ok=1
    d=$p
    while :; do
      s=$(/usr/bin/stat -c '%u:%a' -- "$d" 2>/dev/null) || { ok=0; break; }
      mode=${s#*:}
      case ${s%%:*}:${mode: -2} in 0:[0145][0145]) ;; *) ok=0; break ;; esac
      [ "$d" = / ] && break
      d=${d%/*}
      d=${d:-/}
    done
    if [ "$ok" = 1 ]; then out=${out:+$out:}$p; fi
  done
  PATH=${out:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
}
__dvm_safe_path
export PATH
unset -v BASH_ENV ENV CDPATH GLOBIGNORE
)SH";

}  // namespace dvm::detail
