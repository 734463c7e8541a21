# gpg-key.sh: creates (once) a disposable GPG signing key (guest/scripts.cpp, gpg_key_script();
# output format in guest/scripts.hpp).
# Inputs (set by the C++ side before this text): name, the VM name.
# shellcheck disable=SC2154 # name is the input named above
# shellcheck shell=bash

# A disposable signing key: ed25519, signing only, no passphrase, expires in one year.
if ! command -v gpg >/dev/null 2>&1; then
  if command -v dnf5 >/dev/null 2>&1; then
    sudo -n dnf5 install -y -q gnupg2 >/dev/null
  fi
fi
uid="$name dvm <dvm-$name@local>"
created=0
if ! gpg --batch --list-secret-keys -- "$uid" >/dev/null 2>&1; then
  gpg --batch --quiet --passphrase '' --quick-gen-key "$uid" ed25519 sign 1y >/dev/null 2>&1
  created=1
fi
fingerprint=$(gpg --batch --with-colons --list-secret-keys -- "$uid" | awk -F: '$1 == "fpr" { print $10; exit }')
printf 'created\t%s\n' "$created"
printf 'fingerprint\t%s\n' "$fingerprint"
gpg --batch --armor --export -- "$uid"
