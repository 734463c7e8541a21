# copy-install.sh: `dvm cp` into the guest, second step, after limactl copied into the staging
# directory (guest/scripts.cpp, copy_install_script(); output format in guest/scripts.hpp).
# Inputs (set by the C++ side before this text, with copy-common.sh): agent_user, vm_user,
# home, code_dir, target, staging, mode (inside or ancestor) and kind (dir or name).
# shellcheck disable=SC2154 # the inputs named above; rest and touched are set by walk() of copy-common.sh
# shellcheck disable=SC2164 # runs under set -e, which the C++ side sets before this text
# shellcheck shell=bash

code_real=$(realpath -e -- "$code_dir")
case $staging in "$(dirname -- "$code_real")"/.dvm-cp.?*) ;; *) echo "bad staging directory" >&2; exit 1 ;; esac
trap 'rm -rf -- "$staging"' EXIT
acl=0
if [ "$mode" = inside ] && command -v setfacl >/dev/null 2>&1 && id -- "$agent_user" >/dev/null 2>&1; then
  acl=1
fi
entries=()
while IFS= read -r -d '' e; do entries+=("$e"); done < <(find -P "$staging" -mindepth 1 -maxdepth 1 -printf '%f\0')
# The ACLs first, in the staging directory, which only this user can reach.
if [ "$acl" = 1 ]; then
  for e in "${entries[@]}"; do
    setfacl -R -P -m "u:$agent_user:rwX" -m "u:$vm_user:rwX" -- "$staging/$e"
    find -P "$staging/$e" -type d -exec setfacl -m "d:u:$agent_user:rwx" -m "d:u:$vm_user:rwx" -- {} +
  done
  sudo -n setfacl -m "u:$agent_user:--x" -- "$home" 2>/dev/null || true
  sudo -n setfacl -m "u:$agent_user:--x" -- "$(dirname -- "$code_real")" 2>/dev/null || true
  for u in "$agent_user" "$vm_user"; do
    sudo -n setfacl -m "u:$u:rwx" -m "d:u:$u:rwx" -- "$code_real" 2>/dev/null || true
  done
fi
dev=$(stat -c %d -- "$staging")
# place SRC NAME: puts the staged SRC at NAME in the working directory (merging directories).
# With apply=0 it only checks, so a refusal leaves nothing half copied.
place() {
  local src=$1 name=$2 inside=${3:-0} here child
  here=$(pwd -P)
  if in_code; then inside=1; fi
  if [ "$inside" = 1 ] && [ -L "./$name" ]; then refuse_link "${here%/}/$name" "./$name"; fi
  if [ -d "$src" ] && [ ! -L "$src" ] && [ -d "./$name" ]; then
    (
      cd -- "./$name"
      if [ "$inside" = 1 ] && [ "$(pwd -P)" != "${here%/}/$name" ]; then moved "${here%/}/$name"; fi
      if [ "$apply" = 1 ] && [ "$acl" = 1 ] && [ "$inside" = 1 ]; then
        setfacl -m "u:$agent_user:rwx" -m "d:u:$agent_user:rwx" -m "u:$vm_user:rwx" -m "d:u:$vm_user:rwx" . 2>/dev/null || true
      fi
      while IFS= read -r -d '' child; do
        place "$src/$child" "$child" "$inside"
      done < <(find -P "$src" -mindepth 1 -maxdepth 1 -printf '%f\0')
    )
    return 0
  fi
  if [ -d "$src" ] && [ ! -L "$src" ] && { [ -e "./$name" ] || [ -L "./$name" ]; }; then
    fail "${here%/}/$name: Not a directory"
  fi
  if { [ ! -d "$src" ] || [ -L "$src" ]; } && [ -d "./$name" ] && [ ! -L "./$name" ]; then
    fail "${here%/}/$name: Is a directory"
  fi
  [ "$(stat -c %d .)" = "$dev" ] || fail "${here%/}: on another file system than $staging"
  if [ "$apply" = 1 ]; then
    mv -fT -- "$src" "./$name"
  fi
}
for apply in 0 1; do
  walk "$(realpath -m -s -- "$target")"
  if [ "$kind" = dir ]; then
    [ -z "$rest" ] || fail "$target: No such directory (it changed during the copy)"
    for e in "${entries[@]}"; do place "$staging/$e" "$e" "$touched"; done
  else
    case $rest in '' | */*) fail "$target: changed during the copy" ;; esac
    [ "${#entries[@]}" = 1 ] || fail "$target: Not a directory"
    place "$staging/${entries[0]}" "$rest" "$touched"
  fi
done
if [ "$acl" = 1 ] && [ "$kind" = dir ] && [ "$touched" = 1 ]; then
  setfacl -m "u:$agent_user:rwx" -m "d:u:$agent_user:rwx" -m "u:$vm_user:rwx" -m "d:u:$vm_user:rwx" . 2>/dev/null || true
fi
printf 'installed\n'
