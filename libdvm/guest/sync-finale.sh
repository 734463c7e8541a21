# sync-finale.sh: the end of the `dvm sync` guest program (guest/program.cpp), after the
# recipes: removes the secrets, runs the project's .dvm/sync.sh hook and prints the done marker.
# Inputs: DVM_CODE_DIR (exported), __dvm_mark, __dvm_step and __dvm_remove_secrets of
# sync-prelude.sh.
# shellcheck disable=SC2034 # __dvm_step is read by __dvm_exit (sync-prelude.sh)
# shellcheck shell=bash
__dvm_remove_secrets
if [ -f "$DVM_CODE_DIR/.dvm/sync.sh" ]; then
  __dvm_step='hook .dvm/sync.sh'
  __dvm_mark 'hook-start .dvm/sync.sh'
  (cd "$DVM_CODE_DIR" && /bin/bash ./.dvm/sync.sh </dev/null)
  __dvm_mark 'hook-done .dvm/sync.sh'
  __dvm_step=''
fi
__dvm_mark 'done'
