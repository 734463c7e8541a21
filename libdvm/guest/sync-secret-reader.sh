# sync-secret-reader.sh: part of the `dvm sync` guest program (guest/program.cpp), only when
# secrets are sent. __dvm_read_secrets COUNT reads COUNT framed secrets ("NAME LENGTH\n" +
# LENGTH bytes) from stdin into 0600 files in a fresh 0700 directory. bash reads a script from
# a pipe one byte at a time, so the frames that follow the call line (written by the C++ side
# right after this text) are read by this function and never parsed as script text. Tracing is
# off while it runs (a trace would show the lengths).
# Inputs: the functions and variables of sync-prelude.sh (__dvm_mark, __dvm_wipe_secrets,
# __dvm_secret_dir, __dvm_watchdog_pid).
# shellcheck disable=SC2034 # __dvm_watchdog_pid is read by __dvm_remove_secrets (sync-prelude.sh)
# shellcheck shell=bash
__dvm_read_secrets() {
  case $- in *x*) set +x; local __dvm_xtrace=1 ;; *) local __dvm_xtrace='' ;; esac
  local count=$1 name length size i old_umask dir
  old_umask=$(umask)
  umask 077
  sudo -n install -d -m 0711 -o root -g root /run/dvm-secrets
  dir=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  case $dir in '' | *[!0-9a-f]*) echo "dvm: cannot name the secrets directory" >&2; return 1 ;; esac
  # The name is chosen before the directory exists, so the exit trap always knows what to
  # remove, and the watchdog runs before the first byte of a value is read. Only root can
  # create entries in /run/dvm-secrets.
  __dvm_secret_dir=/run/dvm-secrets/$dir
  __dvm_watchdog "$$" </dev/null &
  __dvm_watchdog_pid=$!
  sudo -n install -d -m 0700 -o "$(id -u)" -g "$(id -g)" "$__dvm_secret_dir"
  for ((i = 0; i < count; i++)); do
    IFS=' ' read -r name length || { echo "dvm: the secrets ended early" >&2; return 1; }
    case $name in '' | *[!A-Z0-9_]*) echo "dvm: bad secret frame" >&2; return 1 ;; esac
    case $length in '' | *[!0-9]*) echo "dvm: bad secret frame" >&2; return 1 ;; esac
    head -c "$length" >"$__dvm_secret_dir/$name"
    size=$(wc -c <"$__dvm_secret_dir/$name")
    if [ "$size" -ne "$length" ]; then
      echo "dvm: secret $name arrived incomplete" >&2
      return 1
    fi
    export "DVM_SECRET_FILE_$name=$__dvm_secret_dir/$name"
  done
  umask "$old_umask"
  if [ -n "$__dvm_xtrace" ]; then set -x; fi
}
# While secrets are staged. It ignores the hang-up that ends the session (a dropped connection
# sends SIGHUP to the whole process group), so it outlives the main shell: when the host is gone
# (a write to stdout fails) it removes the secrets at once and stops the program, instead of both
# lingering until the program's next output; when the main shell is gone without removing them
# (killed outright), it removes them too. The main shell stops it with SIGTERM.
__dvm_watchdog() {
  local main=$1 group
  trap '' HUP INT PIPE
  trap - EXIT
  set +e
  while kill -0 "$main" 2>/dev/null; do
    if ! __dvm_mark alive 2>/dev/null; then
      __dvm_wipe_secrets "$__dvm_secret_dir"
      group=$(ps -o pgid= -p "$main" 2>/dev/null | tr -d ' ')
      if [ "$group" = "$main" ]; then
        kill -TERM -- "-$main" 2>/dev/null
      else
        pkill -TERM -P "$main" 2>/dev/null
        kill -TERM "$main" 2>/dev/null
      fi
      exit 0
    fi
    sleep 1 >/dev/null 2>&1
  done
  __dvm_wipe_secrets "$__dvm_secret_dir"
  exit 0
}
