# recipe-checks.sh: the end of `dvm doctor`'s guest program (guest/program.cpp), after the
# settings, the recipe helpers and one function __dvm_check_N per recipe that declares a
# `dvm_check` function (its text, then a call of it). Runs each check in a subshell as the main
# user (as recipes run), with stdin from /dev/null; a check that fails makes the next sync run
# its recipe: its record (sync-fingerprints.sh) is removed, by root, without following a link
# (rm of a link removes the link). Prints "check\t<name>\tok|failed\t<exit status>" per
# check, "forgot\t<name>" per record removed, then the done marker.
# Inputs: __dvm_checks (array of "NAME FUNCTION"), __dvm_mark (sync-prelude.sh).
# shellcheck disable=SC2154 # __dvm_checks is the input named above
# shellcheck shell=bash
__dvm_stale=()
for __dvm_entry in "${__dvm_checks[@]}"; do
  __dvm_status=0
  ("${__dvm_entry#* }") </dev/null >/dev/null 2>&1 || __dvm_status=$?
  if [ "$__dvm_status" -eq 0 ]; then
    printf 'check\t%s\tok\t0\n' "${__dvm_entry%% *}"
  else
    printf 'check\t%s\tfailed\t%s\n' "${__dvm_entry%% *}" "$__dvm_status"
    __dvm_stale+=("${__dvm_entry%% *}")
  fi
done
if [ "${#__dvm_stale[@]}" -gt 0 ]; then
  for __dvm_entry in "${__dvm_stale[@]}"; do
    case $__dvm_entry in '' | *[!a-z0-9-]*) continue ;; esac
    if sudo -n rm -f -- "/var/lib/dvm/recipes/$__dvm_entry" </dev/null; then
      printf 'forgot\t%s\n' "$__dvm_entry"
    fi
  done
fi
__dvm_mark 'done'
