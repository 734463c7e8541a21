# ssh-key.sh: creates (once) the VM-local Git access and signing keys and configures git and ssh
# for them (guest/scripts.cpp, ssh_key_script(); output format in guest/scripts.hpp).
# Inputs (set by the C++ side before this text): name, the VM name.
# shellcheck disable=SC2154 # name is the input named above
# shellcheck shell=bash

# VM-local keys: one for Git access (deploy/auth key), one for commit signing. Host keys are
# never copied into the guest.
access_key="$HOME/.ssh/id_ed25519_dvm"
signing_key="$HOME/.ssh/id_ed25519_dvm_signing"
created=0
if ! command -v ssh-keygen >/dev/null 2>&1; then
  if command -v dnf5 >/dev/null 2>&1; then
    sudo -n dnf5 install -y -q openssh-clients git >/dev/null
  fi
fi
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
write_public_key() {
  local key=$1 public_key="$1.pub" tmp
  if [ ! -s "$public_key" ]; then
    tmp=$(mktemp "${public_key}.XXXXXX")
    ssh-keygen -y -f "$key" >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$public_key"
  fi
}
make_key() {
  local key=$1 comment=$2
  if [ ! -f "$key" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$key" </dev/null >/dev/null
    created=1
  fi
  write_public_key "$key"
}
make_key "$access_key" "$name-dvm-git-access"
make_key "$signing_key" "$name-dvm-git-signing"
touch "$HOME/.ssh/config"
chmod 600 "$HOME/.ssh/config"
if ! grep -qF "IdentityFile $access_key" "$HOME/.ssh/config"; then
  {
    printf '\nHost github.com\n'
    printf '  HostName github.com\n'
    printf '  User git\n'
    printf '  IdentityFile %s\n' "$access_key"
    printf '  IdentitiesOnly yes\n'
    printf '  AddKeysToAgent no\n'
  } >>"$HOME/.ssh/config"
fi
if command -v git >/dev/null 2>&1; then
  mkdir -p "$HOME/.config/git"
  export GIT_CONFIG_GLOBAL="$HOME/.config/git/config"
  git config --global gpg.format ssh
  git config --global user.signingkey "$signing_key.pub"
  git config --global commit.gpgsign true
fi
printf 'access\t%s\n' "$(cat "$access_key.pub")"
printf 'signing\t%s\n' "$(cat "$signing_key.pub")"
printf 'created\t%s\n' "$created"
