# sync-setup.sh: part of the `dvm sync` guest program (guest/program.cpp), after the exported
# settings (DVM_NAME, DVM_USER, DVM_CODE_DIR, DVM_<env key>...). Sets the hostname, removes
# secrets directories a guest that died in an earlier sync left behind (only one sync of a VM
# runs at a time: dvm holds a lock), and defines dvm_secret for the recipes.
# Inputs: DVM_NAME (exported before this text).
# shellcheck shell=bash
__dvm_hostname=$(hostname 2>/dev/null || true)
if [ "$__dvm_hostname" != "$DVM_NAME" ]; then
  if command -v hostnamectl >/dev/null 2>&1; then
    sudo -n hostnamectl set-hostname "$DVM_NAME"
  else
    sudo -n hostname "$DVM_NAME"
  fi
fi
if [ -d /run/dvm-secrets ]; then
  sudo -n find -P /run/dvm-secrets -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
fi
# dvm_secret NAME: prints the staged value. Tracing (set -x) is off while it runs, and restored.
dvm_secret() {
  case $- in *x*) set +x; local __dvm_xtrace=1 ;; *) local __dvm_xtrace='' ;; esac
  local file_var="DVM_SECRET_FILE_${1:?usage: dvm_secret NAME}" status=0
  if [ -z "${!file_var:-}" ]; then
    echo "dvm_secret: no secret named $1 was staged for this sync" >&2
    status=1
  else
    cat -- "${!file_var}" || status=$?
  fi
  if [ -n "$__dvm_xtrace" ]; then set -x; fi
  return "$status"
}
