# sync-runner.sh: part of the `dvm sync` guest program (guest/program.cpp), after the recipe
# helpers. __dvm_run_recipe NAME FUNCTION FINGERPRINT POLICY EVERY [SECRET...] runs one recipe,
# which the C++ side wraps into FUNCTION after this text, between progress markers. POLICY
# "changed": only when the fingerprint (with the digests of the SECRETs it uses,
# sync-fingerprints.sh) differs from the one recorded at its last successful run; "always" and
# "forced": every time. EVERY is the wrapper of the recipe's dvm_every_sync function, or "-":
# it runs after the recipe, and alone (before the skipped marker) when the recipe is skipped.
# A recipe or dvm_every_sync that fails loses its record (__dvm_exit, sync-prelude.sh), so the
# next sync runs the whole recipe.
# Inputs: __dvm_mark and __dvm_step of sync-prelude.sh, the __dvm_fp_* functions of
# sync-fingerprints.sh.
# shellcheck disable=SC2034 # __dvm_step is read by __dvm_exit (sync-prelude.sh)
# shellcheck disable=SC2164 # runs under set -e (sync-prelude.sh)
# shellcheck shell=bash
__dvm_run_recipe() {
  __dvm_fp_quiet
  local __dvm_full=$3
  if [ "$#" -gt 5 ]; then __dvm_full=$(__dvm_fp_full "$3" "${@:6}"); fi
  # The recipe runs inside this function and may change any variable it sees (locals included):
  # what is needed after it stays in the positional parameters, which it cannot change.
  set -- "$1" "$2" "$3" "$__dvm_full" "$5" "$4"
  if [ "$6" = changed ] && [ "${__dvm_fp_recorded[$1]:-}" = "$4" ]; then
    __dvm_fp_loud
    if [ "$5" != - ]; then __dvm_run_part "$1" "$5"; fi
    __dvm_mark "recipe-skipped $1"
    return 0
  fi
  __dvm_fp_loud
  __dvm_mark "recipe-start $1"
  __dvm_run_part "$1" "$2"
  if [ "$5" != - ]; then __dvm_run_part "$1" "$5"; fi
  __dvm_mark "recipe-done $1"
  __dvm_fp_quiet
  __dvm_fp_record "$1" "$3" "$4"
  __dvm_fp_loud
}

# __dvm_run_part NAME FUNCTION: the recipe NAME's code in FUNCTION, as a plain command (strict
# mode stays on inside it) in the home directory, never on the program's own stdin (which
# still holds the rest of this program).
__dvm_run_part() {
  cd "$HOME"
  __dvm_step="recipe $1"
  DVM_RECIPE=$1
  export DVM_RECIPE
  "$2" </dev/null
  __dvm_step=''
}
