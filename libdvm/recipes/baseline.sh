# Description: base tools every VM gets (git, curl, wget, unzip, tar, gzip, jq) and ~/.local/bin
dvm_pkg_install git curl wget unzip tar gzip jq ca-certificates
mkdir -p -- "$HOME/.local/bin" "$DVM_CODE_DIR"
