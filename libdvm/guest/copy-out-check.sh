# copy-out-check.sh: `dvm cp` out of the guest, before limactl copies (guest/scripts.cpp,
# copy_out_check_script()). scp runs as the main user and follows links, so a link the agent
# made in the code dir (`x -> ~/.ssh/id_ed25519`) would carry the main user's files to the
# host. A source in the code dir whose path or (with -r) tree holds a symlink is refused.
# Inputs (set by the C++ side before this text, with copy-common.sh): code_dir, recursive (0
# or 1) and sources, an array of absolute guest paths.
# shellcheck disable=SC2154 # code_dir, recursive and sources are the inputs named above; rest and touched are set by walk() of copy-common.sh
# shellcheck disable=SC2034 # code_real is read by in_code() of copy-common.sh
# shellcheck shell=bash

code_real=$(realpath -e -- "$code_dir" 2>/dev/null) || exit 0
for src in "${sources[@]}"; do
  walk "$(realpath -m -s -- "$src")"
  [ -z "$rest" ] || [ "$touched" = 1 ] || continue
  if [ -n "$rest" ]; then
    # The last component is a file (or missing) in a directory of the code dir.
    case $rest in */*) continue ;; esac
    if [ -L "./$rest" ]; then refuse_link "$(pwd -P)/$rest" "./$rest"; fi
    continue
  fi
  if [ "$touched" = 1 ] && [ "$recursive" = 1 ]; then
    link=$(find -P . -type l -print -quit 2>/dev/null || true)
    if [ -n "$link" ]; then refuse_link "$(pwd -P)/${link#./}" "$link"; fi
  fi
done
# What will be copied, for copy_result: regular files and bytes; -H follows a source that is a
# link (as scp does) and no link below it.
files=0 bytes=0
for src in "${sources[@]}"; do
  read -r f b < <(find -H "$src" -type f -printf '%s\n' 2>/dev/null | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}')
  files=$((files + f)) bytes=$((bytes + b))
done
printf 'counted\t%s\t%s\n' "$files" "$bytes"
printf 'checked\n'
