# sync-prelude.sh: the fixed start of the `dvm sync` guest program (guest/program.cpp), after
# safe-environment.sh. Strict mode, the progress marker and the cleanup traps.
#
# Threat model (SECURITY.md): everything the agent user can write (its home, the code dir) is
# hostile. The program runs as the main user with a login environment built from the main
# user's own dotfiles, which may still name such a directory (a careless
# `PATH=~/code/app/bin:$PATH`). So every command of the program, its helpers and its recipes
# is found through a PATH of root-owned directories only, and nothing of the environment
# changes how bash runs it (the program is started as `/bin/bash -p -s`: no BASH_ENV, ENV,
# SHELLOPTS, BASHOPTS or functions from the environment; PATH and the rest are reset by
# safe-environment.sh).
# Inputs (set by the C++ side just before this text): __dvm_nonce.
# shellcheck disable=SC2154 # __dvm_nonce is the input named above
# shellcheck shell=bash
set -euo pipefail
__dvm_step=''
__dvm_secret_dir=''
__dvm_mark() { printf '::dvm-%s::%s\n' "$__dvm_nonce" "$*"; }
__dvm_watchdog_pid=''
__dvm_exiting=''
# Removes a staged secrets directory: the files first as their owner (works even if sudo is
# broken), then the directory as root. No stdio for sudo: after a lost connection stdout is a
# broken pipe. find -P (never follows a link) and rm -rf do not leave the directory.
__dvm_wipe_secrets() {
  case $1 in /run/dvm-secrets/?*) ;; *) return 0 ;; esac
  find -P "$1" -mindepth 1 -delete </dev/null >/dev/null 2>&1 || true
  sudo -n rm -rf -- "$1" </dev/null >/dev/null 2>&1 || true
}
__dvm_remove_secrets() {
  if [ -n "$__dvm_watchdog_pid" ]; then
    kill "$__dvm_watchdog_pid" 2>/dev/null || true
    wait "$__dvm_watchdog_pid" 2>/dev/null || true
    __dvm_watchdog_pid=''
  fi
  if [ -n "$__dvm_secret_dir" ]; then
    __dvm_wipe_secrets "$__dvm_secret_dir"
    __dvm_secret_dir=''
  fi
}
# Every way out of the program ends here: the EXIT trap, and the signal traps call it themselves
# (bash does not run the EXIT trap for `exit` in a signal trap that interrupted the read of the
# next line of the program, which is where a dropped connection usually finds it).
__dvm_exit() {
  local status=$?
  if [ "$#" -gt 0 ]; then status=$1; fi
  # Nothing may interrupt the cleanup: the connection may be gone and signals keep coming.
  trap '' HUP INT TERM PIPE
  trap - EXIT
  if [ -z "$__dvm_exiting" ]; then
    __dvm_exiting=1
    __dvm_remove_secrets
    if [ -n "$__dvm_step" ]; then
      __dvm_mark "failed $status $__dvm_step" 2>/dev/null || true
      if [ "$status" -eq 0 ]; then status=3; fi
      # A recipe that failed (or was cut short) runs in full at the next sync, whatever its
      # fingerprint (sync-fingerprints.sh).
      case $__dvm_step in "recipe "*) __dvm_fp_forget "${__dvm_step#recipe }" ;; esac
    fi
  fi
  exit "$status"
}
# A lost connection can deliver several signals in a row (SIGHUP twice, SIGPIPE): the first one
# ignores the rest, so none can cut the cleanup short.
__dvm_signal() {
  trap '' HUP INT TERM PIPE
  __dvm_exit "$1"
}
trap __dvm_exit EXIT
trap '__dvm_signal 129' HUP
trap '__dvm_signal 130' INT
trap '__dvm_signal 143' TERM
trap '__dvm_signal 141' PIPE
