# sync-runner.sh: part of the `dvm sync` guest program (guest/program.cpp), after the recipe
# helpers. __dvm_run_recipe NAME FUNCTION FINGERPRINT POLICY [SECRET...] runs one recipe, which
# the C++ side wraps into FUNCTION after this text, between progress markers. POLICY "changed":
# only when the fingerprint (with the digests of the SECRETs it uses, sync-fingerprints.sh)
# differs from the one recorded at its last successful run; "always" and "forced": every time.
# Inputs: __dvm_mark and __dvm_step of sync-prelude.sh, the __dvm_fp_* functions of
# sync-fingerprints.sh.
# shellcheck disable=SC2034 # __dvm_step is read by __dvm_exit (sync-prelude.sh)
# shellcheck disable=SC2164 # runs under set -e (sync-prelude.sh)
# shellcheck shell=bash
__dvm_run_recipe() {
  __dvm_fp_quiet
  local __dvm_full=$3
  if [ "$#" -gt 4 ]; then __dvm_full=$(__dvm_fp_full "$3" "${@:5}"); fi
  if [ "$4" = changed ] && [ "${__dvm_fp_recorded[$1]:-}" = "$__dvm_full" ]; then
    __dvm_fp_loud
    __dvm_mark "recipe-skipped $1"
    return 0
  fi
  # The recipe runs inside this function and may change any variable it sees (locals included):
  # what is needed after it stays in the positional parameters, which it cannot change.
  set -- "$1" "$2" "$3" "$__dvm_full"
  __dvm_fp_loud
  cd "$HOME"
  __dvm_step="recipe $1"
  DVM_RECIPE=$1
  export DVM_RECIPE
  __dvm_mark "recipe-start $1"
  # A plain command (strict mode stays on inside it), and never the program's own stdin, which
  # still holds the rest of this program.
  "$2" </dev/null
  __dvm_mark "recipe-done $1"
  __dvm_step=''
  __dvm_fp_quiet
  __dvm_fp_record "$1" "$3" "$4"
  __dvm_fp_loud
}
