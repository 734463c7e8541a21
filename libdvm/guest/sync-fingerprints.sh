# sync-fingerprints.sh: part of the `dvm sync` guest program (guest/program.cpp), after
# sync-runner.sh. Incremental sync: the record of each recipe's fingerprint (recipes/fingerprint.hpp)
# from its last successful run, and the keyed digests of the staged secrets.
#
# Where: /var/lib/dvm (root:root 0700). recipes/NAME holds one line
#   dvm-fp-1 <host fingerprint> <full fingerprint> <unix time of the run>
# (the full fingerprint adds the digests of the secrets the recipe uses; for a recipe without
# secrets both are the same). fingerprint.key: 32 random bytes (hex) that only root reads; a
# secret's digest is SHA-256 of key, name and value, so it says nothing about a value to anyone
# without the key. Only root can read or change anything here: the agent user sees nothing, and
# whatever the main user does to it with sudo (garbage, a link, an old line) can only make a
# recipe run again, because a record is used only when it equals what this sync computes.
# The digests and full fingerprints travel only through pipes and shell variables, never argv.
# Inputs: __dvm_mark (sync-prelude.sh), __dvm_secret_dir (sync-secret-reader.sh, or '').
# shellcheck disable=SC2154 # __dvm_secret_dir is the input named above
# shellcheck shell=bash
declare -A __dvm_fp_recorded=() __dvm_secret_digest=()
__dvm_fp_xtrace=''

# As root. Arguments: SECRETS_DIR ('' for none) COUNT SECRET_NAME... RECIPE_NAME...
# Makes the store, forgets the records of recipes the VM no longer runs, prints
# "r NAME FULL_FINGERPRINT" per valid record and "s NAME DIGEST" per staged secret.
__dvm_fp_root_load() {
  set -euo pipefail
  umask 077
  local store=/var/lib/dvm records=/var/lib/dvm/recipes keyfile=/var/lib/dvm/fingerprint.key
  local secrets_dir=$1 count=$2 key='' name file line digest i
  shift 2
  local -a secrets=("${@:1:count}")
  local -A keep=()
  shift "$count"
  for name in "$@"; do keep[$name]=1; done
  for file in "$store" "$records"; do
    if [ -L "$file" ] || { [ -e "$file" ] && [ ! -d "$file" ]; }; then rm -f -- "$file"; fi
    install -d -m 0700 -o root -g root -- "$file"
  done
  # `read -n` (a builtin: no fork per file) reads at most that many characters of the first line.
  if [ -f "$keyfile" ] && [ ! -L "$keyfile" ]; then read -r -n 64 key <"$keyfile" || true; fi
  case $key in *[!0-9a-f]* | '') key='' ;; esac
  if [ "${#key}" -ne 64 ]; then
    key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    line=$(mktemp "$store/.key.XXXXXX")
    printf '%s\n' "$key" >"$line"
    mv -fT -- "$line" "$keyfile"
  fi
  for file in "$records"/* "$records"/.[!.]*; do
    [ -e "$file" ] || [ -L "$file" ] || continue
    name=${file##*/}
    if [ -z "${keep[$name]:-}" ] || [ -L "$file" ] || [ ! -f "$file" ]; then
      rm -rf -- "$file"
      continue
    fi
    line=''
    read -r -n 200 line <"$file" || true
    if [[ $line =~ ^dvm-fp-1\ [0-9a-f]{64}\ ([0-9a-f]{64})\ [0-9]+$ ]]; then
      printf 'r %s %s\n' "$name" "${BASH_REMATCH[1]}"
    fi
  done
  case $secrets_dir in /run/dvm-secrets/?*) ;; *) return 0 ;; esac
  for ((i = 0; i < ${#secrets[@]}; i++)); do
    name=${secrets[i]}
    file=$secrets_dir/$name
    if [ -L "$file" ] || [ ! -f "$file" ]; then continue; fi
    digest=$({ printf '%s\n%s\n' "$key" "$name"; cat -- "$file"; } | sha256sum)
    printf 's %s %s\n' "$name" "${digest%% *}"
  done
}

# As root. Reads "NAME HOST_FINGERPRINT FULL_FINGERPRINT" from stdin and records it.
__dvm_fp_root_record() {
  set -euo pipefail
  umask 077
  local records=/var/lib/dvm/recipes name host full tmp
  read -r name host full
  case $name in '' | *[!a-z0-9-]*) return 1 ;; esac
  [[ $host =~ ^[0-9a-f]{64}$ && $full =~ ^[0-9a-f]{64}$ ]] || return 1
  [ -d "$records" ] && [ ! -L "$records" ] || return 1
  tmp=$(mktemp "$records/.new.XXXXXX")
  printf 'dvm-fp-1 %s %s %s\n' "$host" "$full" "$(date +%s)" >"$tmp"
  mv -fT -- "$tmp" "$records/$name"
}

# As root. Argument: NAME. Removes the record of recipe NAME.
__dvm_fp_root_forget() {
  set -euo pipefail
  local records=/var/lib/dvm/recipes
  case $1 in '' | *[!a-z0-9-]*) return 1 ;; esac
  [ -d "$records" ] && [ ! -L "$records" ] || return 0
  rm -f -- "$records/$1"
}

# __dvm_fp_load SECRET_COUNT SECRET_NAME... RECIPE_NAME...: one sudo call before the recipes.
# When it fails, nothing counts as recorded: every recipe runs.
__dvm_fp_load() {
  local out kind name value
  if ! out=$(sudo -n /bin/bash -p -c "$(declare -f __dvm_fp_root_load); __dvm_fp_root_load \"\$@\"" \
    dvm-fingerprints "$__dvm_secret_dir" "$@" </dev/null); then
    echo "dvm: warning: cannot read the fingerprints of earlier runs (sudo failed): every recipe runs"
    return 0
  fi
  while read -r kind name value; do
    case $kind in
      r) __dvm_fp_recorded[$name]=$value ;;
      s) __dvm_secret_digest[$name]=$value ;;
    esac
  done <<<"$out"
}

# Tracing (a recipe's `set -x` is still on) would print the full fingerprints: off while
# fingerprints are handled.
__dvm_fp_quiet() {
  case $- in *x*) __dvm_fp_xtrace=1 ;; *) __dvm_fp_xtrace='' ;; esac
  set +x
}
__dvm_fp_loud() {
  if [ -n "$__dvm_fp_xtrace" ]; then set -x; fi
}

# __dvm_fp_full HOST_FINGERPRINT SECRET_NAME...: the fingerprint with the secrets' digests.
__dvm_fp_full() {
  local host=$1 name sum
  shift
  if [ "$#" -eq 0 ]; then
    printf '%s\n' "$host"
    return 0
  fi
  sum=$({
    printf '%s\n' "$host"
    for name in "$@"; do printf '%s %s\n' "$name" "${__dvm_secret_digest[$name]:-not-staged}"; done
  } | sha256sum)
  printf '%s\n' "${sum%% *}"
}

# __dvm_fp_record NAME HOST_FINGERPRINT FULL_FINGERPRINT. A record that cannot be written only
# costs a run at the next sync.
__dvm_fp_record() {
  printf '%s %s %s\n' "$1" "$2" "$3" |
    sudo -n /bin/bash -p -c "$(declare -f __dvm_fp_root_record); __dvm_fp_root_record" dvm-fingerprints ||
    echo "dvm: warning: could not record the fingerprint of recipe $1: it runs again at the next sync"
}

# __dvm_fp_forget NAME: at the exit of a sync whose recipe NAME failed. No stdio: after a lost
# connection stdout is a broken pipe. When it fails, a forced run that failed may be skipped at
# the next sync if nothing changed (the record is that of its last success).
__dvm_fp_forget() {
  sudo -n /bin/bash -p -c "$(declare -f __dvm_fp_root_forget); __dvm_fp_root_forget \"\$1\"" \
    dvm-fingerprints "$1" </dev/null >/dev/null 2>&1 || true
}
