# copy-common.sh: functions shared by copy-stage.sh, copy-out-check.sh and copy-install.sh
# (`dvm cp`, guest/scripts.cpp), which follow this text.
#
# `dvm cp` into the guest (SECURITY.md): the code dir is writable by the agent user, so a copy
# into it (or into a directory above it, whose copy descends into it) must never write through
# a symlink or hard link the agent put there, nor change the ACL of anything but what was
# copied. limactl copies into a fresh private staging directory next to the code dir instead
# (scp would follow the links); the install script then grants the ACLs there, where nothing
# can interfere, and moves each item into place by rename(2) from a working directory entered
# one component at a time: inside the code dir a component that is a symlink is refused, and
# each step is checked with `pwd -P`, so a link swapped in meanwhile is caught too. A rename
# relative to the working directory cannot be redirected, and it replaces a final link or hard
# link instead of writing through it.
# Inputs: code_real, set by the script that follows before it calls these functions.
# shellcheck disable=SC2154 # code_real is the input named above
# shellcheck disable=SC2164 # runs under set -e, which the C++ side sets before this text
# shellcheck shell=bash

clean() { local s=$1; printf '%s' "${s//[[:cntrl:]]/?}"; }
in_code() {
  local here
  here=$(pwd -P)
  [ "$here" = "$code_real" ] || [[ $here == "$code_real"/* ]]
}
refuse_link() {
  printf 'refused\t%s\t%s\n' "$(clean "$1")" "$(clean "$(readlink -- "$2" 2>/dev/null || printf '?')")"
  exit 3
}
moved() {
  printf 'moved\t%s\n' "$(clean "$1")"
  exit 3
}
fail() {
  printf 'failed\t%s\n' "$(clean "$1")"
  exit 3
}
# walk PATH: enters every existing directory of PATH from /, following symlinks only outside the
# code dir. Sets rest to what is left from the first component that is missing or not a
# directory, and touched=1 if the walk went through the code dir.
# shellcheck disable=SC2034 # touched is read by the stage script only
walk() {
  local p=${1#/} comp here inside
  cd /
  rest=''
  touched=0
  while [ -n "$p" ]; do
    comp=${p%%/*}
    if [ "$comp" = "$p" ]; then p=''; else p=${p#*/}; fi
    [ -n "$comp" ] || continue
    here=$(pwd -P)
    # Once in the code dir, strict to the end (even if the agent moves a directory out of it).
    if in_code; then touched=1; fi
    inside=$touched
    if [ "$inside" = 1 ] && [ -L "./$comp" ]; then refuse_link "${here%/}/$comp" "./$comp"; fi
    if [ ! -d "./$comp" ]; then
      rest=$comp${p:+/$p}
      return 0
    fi
    cd -- "./$comp"
    if [ "$inside" = 1 ] && [ "$(pwd -P)" != "${here%/}/$comp" ]; then moved "${here%/}/$comp"; fi
  done
  if in_code; then touched=1; fi
  return 0
}
