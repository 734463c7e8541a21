# recipe-records.sh: what `dvm plan` and `dvm status` read of the incremental sync's records
# (sync-fingerprints.sh), after safe-environment.sh and strict mode. Changes nothing: no store or
# key is made when missing. Prints, per valid record, "record\t<name>\t<host fingerprint>\t<unix
# time>", then "end". Never the full fingerprint: for a recipe that uses a secret it is derived
# from the value. A record that is not a regular file (a link) or not well-formed is left out,
# as the sync ignores it.
# shellcheck shell=bash
__dvm_records_root() {
  set -euo pipefail
  local records=/var/lib/dvm/recipes file line
  if [ -d "$records" ] && [ ! -L "$records" ]; then
    for file in "$records"/*; do
      if [ -L "$file" ] || [ ! -f "$file" ]; then continue; fi
      line=$(head -c 200 -- "$file")
      if [[ $line =~ ^dvm-fp-1\ ([0-9a-f]{64})\ [0-9a-f]{64}\ ([0-9]+)$ ]]; then
        printf 'record\t%s\t%s\t%s\n' "${file##*/}" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
      fi
    done
  fi
  echo end
}
sudo -n /bin/bash -p -c "$(declare -f __dvm_records_root); __dvm_records_root" </dev/null
