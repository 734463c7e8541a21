# sync-runner.sh: part of the `dvm sync` guest program (guest/program.cpp), after the recipe
# helpers. __dvm_run_recipe NAME FUNCTION runs one recipe, which the C++ side wraps into
# FUNCTION after this text, between progress markers.
# Inputs: __dvm_mark and __dvm_step of sync-prelude.sh.
# shellcheck disable=SC2034 # __dvm_step is read by __dvm_exit (sync-prelude.sh)
# shellcheck disable=SC2164 # runs under set -e (sync-prelude.sh)
# shellcheck shell=bash
__dvm_run_recipe() {
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
}
