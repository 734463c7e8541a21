# safe-environment.sh: the first lines of every program and script dvm runs in the guest
# (guest/shell.hpp, safe_guest_environment(); SECURITY.md, "Threat model inside the guest").
# The main user's login shell may have put a directory the agent can write (the code dir,
# ~/.local/bin holding a link into it) on PATH, so PATH keeps, in order, only the directories of
# the login PATH that are owned by root and writable by nobody else all the way up, followed by
# the usual system directories; the variables that make bash read or run something else
# (BASH_ENV, ENV, CDPATH, GLOBIGNORE) are cleared. realpath and stat are called by absolute
# path, before any PATH lookup.
# Inputs: none (only the environment's PATH).
# shellcheck shell=bash
__dvm_safe_path() {
  local IFS=: d p s mode out='' ok
  local -a path_dirs=()
  read -r -a path_dirs <<<"${PATH:-}" || true
  for d in "${path_dirs[@]}" /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
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
