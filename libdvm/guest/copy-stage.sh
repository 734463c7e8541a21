# copy-stage.sh: `dvm cp` into the guest, first step (guest/scripts.cpp, copy_stage_script();
# output format in guest/scripts.hpp).
# Inputs (set by the C++ side before this text, with copy-common.sh): code_dir and target
# (absolute guest paths).
# shellcheck disable=SC2154 # code_dir and target are the inputs named above; rest and touched are set by walk() of copy-common.sh
# shellcheck shell=bash

mkdir -p -- "$code_dir"
code_real=$(realpath -e -- "$code_dir")
walk "$(realpath -m -s -- "$target")"
here=$(pwd -P)
if [ "$touched" = 1 ]; then
  mode=inside
elif [ -z "$rest" ] && { [ "$here" = / ] || [[ $code_real == "$here"/* ]]; }; then
  mode=ancestor
else
  # Outside the code dir limactl copies straight to the target: a missing directory is named
  # here rather than left to an scp error.
  if [[ $rest == */* ]] || { [ -n "$rest" ] && [[ $target == */ ]]; }; then
    printf 'missing\t%s\n' "$(clean "${here%/}/${rest%%/*}")"
    exit 3
  fi
  printf 'mode\toutside\n'
  exit 0
fi
# In the code dir, directories that do not exist yet are created, as part of what is staged:
# "docs/" (a directory) or "a/b/notes.md" (a file in one). dirs is that chain, name the file.
dirs=''
case $here in *[[:cntrl:]]*) fail "$here: the name contains a control character" ;; esac
case $rest in
  *[[:cntrl:]]*) fail "$target: the name contains a control character" ;;
  '') kind=dir ;;
  *) kind=name ;;
esac
if [ "$kind" = name ]; then
  case $target in */) dirs=$rest rest='' kind=dir ;; esac
  case $rest in */*) dirs=${rest%/*} rest=${rest##*/} ;; esac
fi
parent=$(dirname -- "$code_real")
staging=$(mktemp -d "$parent/.dvm-cp.XXXXXXXX" 2>/dev/null) || {
  staging=$parent/.dvm-cp.$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  sudo -n install -d -m 0700 -o "$(id -u)" -g "$(id -g)" -- "$staging"
}
case $staging in *[[:cntrl:]]*) rm -rf -- "$staging"; fail "$staging: a control character" ;; esac
if [ -n "$dirs" ]; then mkdir -p -- "$staging/$dirs"; fi
printf 'mode\t%s\nkind\t%s\nname\t%s\nstaging\t%s\ndirs\t%s\nbase\t%s\n' "$mode" "$kind" "$rest" "$staging" \
  "$dirs" "$here"
