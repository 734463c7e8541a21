# safe-environment.sh: the first lines of every program and script dvm runs in the guest
# (guest/shell.hpp, safe_guest_environment(); SECURITY.md, "Threat model inside the guest").
# The main user's login shell may have put a directory the agent can write (the code dir,
# ~/.local/bin holding a link into it) on PATH, so PATH keeps, in order, only the directories of
# the login PATH that are owned by root and writable by nobody else all the way up, followed by
# the usual system directories; the variables that make bash read or run something else
# (BASH_ENV, ENV, CDPATH, GLOBIGNORE) are cleared. realpath and stat are called by absolute
# path, before any PATH lookup, once each for all directories (every program pays for this).
# Inputs: none (only the environment's PATH).
# shellcheck shell=bash
__dvm_safe_path() {
  local IFS=: d p s mode out='' ok
  local -a path_dirs=() absolute=() real=() chain=() stats=()
  local -A seen=() owner_mode=()
  read -r -a path_dirs <<<"${PATH:-}" || true
  for d in "${path_dirs[@]}" /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    case $d in /*) absolute+=("$d") ;; esac
  done
  # Canonical names; one that does not exist is left out of the output.
  mapfile -d '' -t real < <(/usr/bin/realpath -ez -- "${absolute[@]}" 2>/dev/null)
  for p in "${real[@]}"; do
    d=$p
    while [ -z "${seen[$d]:-}" ]; do
      seen[$d]=1
      chain+=("$d")
      [ "$d" = / ] && break
      d=${d%/*}
      d=${d:-/}
    done
  done
  # "uid:mode:name" of every directory on the way up; one that vanished is left out (refused).
  if [ "${#chain[@]}" -gt 0 ]; then
    mapfile -d '' -t stats < <(/usr/bin/stat --printf '%u:%a:%n\0' -- "${chain[@]}" 2>/dev/null)
  fi
  for s in "${stats[@]}"; do
    d=${s#*:}
    owner_mode[${d#*:}]=${s%%:*}:${d%%:*}
  done
  seen=()
  for p in "${real[@]}"; do
    [ -d "$p" ] || continue
    [ -z "${seen[$p]:-}" ] || continue
    seen[$p]=1
    ok=1
    d=$p
    while :; do
      s=${owner_mode[$d]:-missing:}
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
