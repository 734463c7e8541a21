# dirty-check.sh: the unsaved-work check of `dvm rm` (product spec §10) under the code dir
# (guest/scripts.cpp, dirty_check_script(); output format in guest/scripts.hpp).
# Inputs (set by the C++ side before this text, after safe-environment.sh and
# `set -euo pipefail`): code_dir (absolute), agent_user, nonce, and repo_checker, the text of
# dirty-check-repo.sh.
# shellcheck disable=SC2154 # code_dir, agent_user, nonce and repo_checker are the inputs named above
# shellcheck shell=bash

# Unsaved work under the code dir: every Git repository (a .git directory or file at any depth)
# and every regular file outside all repositories. The code dir is writable by the agent user,
# so everything found there is data: no symlink is followed, and git runs with every
# config-driven command switched off and as the agent user (who can already write every
# repository there), never as the main user or root. The whole check is one function read
# before it runs, with stdin from /dev/null, and it ends with the nonce line: output without
# that line is not a verdict.
export LC_ALL=C PATH=/usr/bin:/bin
umask 077
clean_text() { local s=$1; printf '%s' "${s//[[:cntrl:]]/?}"; }
relative() {
  if [ "$1" = "$code_dir" ]; then printf '.'; else clean_text "${1#"$code_dir"/}"; fi
}
problem() { printf 'problem\t%s\t%s\t%s\n' "$1" "$(relative "$2")" "$(clean_text "$3")"; }
finish() {
  printf '::dvm-%s::done\n' "$nonce"
  exit "$1"
}

dvm_dirty_check() {
  local git_bin="" g status=0 target kind path owner mode index finding detail n
  local -a repos=() skip=() prune=() as=() names=()
  if [ -L "$code_dir" ]; then
    target=$(readlink -- "$code_dir" || true)
    problem code_dir_symlink "$code_dir" "the code dir is a symbolic link (to $target); what it points to is not checked"
    finish 1
  fi
  if [ ! -e "$code_dir" ]; then
    finish 0
  fi
  if [ ! -d "$code_dir" ]; then
    problem not_a_directory "$code_dir" "the code dir is not a directory"
    finish 1
  fi
  for g in /usr/bin/git /bin/git; do
    if [ -x "$g" ]; then git_bin=$g; break; fi
  done
  if [ -z "$git_bin" ]; then
    printf 'incomplete\tgit is not installed in the guest, so repositories cannot be checked\n'
    finish 2
  fi
  work=$(mktemp -d)
  trap 'rm -rf -- "$work"' EXIT
  # 1. Repositories, .git symlinks, and directories this user cannot list or enter (a private
  #    directory of the agent's could hide anything). find never follows a symlink.
  if ! find "$code_dir" \( -name .git -printf 'g%y %p\0' -prune \) -o \
    \( -type d \( ! -readable -o ! -executable \) -printf 'u- %p\0' -prune \) \
    >"$work/walk" 2>"$work/walk.err"; then
    problem walk_failed "$code_dir" "listing the code dir failed: $(head -n 1 "$work/walk.err")"
    status=1
  fi
  while IFS= read -r -d '' entry; do
    kind=${entry%% *}
    path=${entry#* }
    case $kind in
      gd | gf)
        repos+=("${path%/.git}")
        skip+=("${path%/.git}")
        ;;
      gl)
        target=$(readlink -- "$path" || true)
        problem git_symlink "$path" ".git is a symbolic link (to $target), so the repository cannot be checked"
        status=1
        ;;
      u-)
        owner=$(stat -c %U -- "$path" 2>/dev/null || printf '?')
        mode=$(stat -c %a -- "$path" 2>/dev/null || printf '?')
        problem unreadable_directory "$path" "a directory $(id -un) cannot read (owner $owner, mode $mode): what it holds is not checked"
        skip+=("$path")
        status=1
        ;;
    esac
  done <"$work/walk"
  # 2. Repositories, checked by the agent user when there is one (sudo: it cannot be entered
  #    the other way round), else by this user.
  if [ "${#repos[@]}" -gt 0 ]; then
    if [ -n "$agent_user" ] && [ "$agent_user" != "$(id -un)" ] && getent passwd "$agent_user" >/dev/null 2>&1; then
      as=(sudo -n -u "$agent_user" --)
    fi
    "${as[@]}" /usr/bin/env -i /bin/bash --noprofile --norc -c "$repo_checker" dvm-repo-check \
      "$git_bin" "$(realpath -e -- "$code_dir")" "${repos[@]}" >"$work/repos" 2>"$work/repos.err" || true
    if [ "$(tail -n 1 "$work/repos")" != end ]; then
      printf 'incomplete\tthe repository check did not finish%s: %s\n' \
        "${as[*]:+ as $agent_user}" "$(clean_text "$(head -n 1 "$work/repos.err")")"
      finish 2
    fi
    while IFS=$'\t' read -r index finding detail; do
      [ "$finding" = "" ] && continue
      if ! [[ $index =~ ^[0-9]+$ ]] || [ "$index" -ge "${#repos[@]}" ]; then continue; fi
      path=$(relative "${repos[$index]}")
      case $finding in
        unstaged) printf 'repo\t%s\tunstaged changes\n' "$path" ;;
        staged) printf 'repo\t%s\tstaged changes\n' "$path" ;;
        untracked) printf 'repo\t%s\tuntracked files\n' "$path" ;;
        stash) printf 'repo\t%s\tstash\n' "$path" ;;
        unpushed) printf 'repo\t%s\tcommits not on any remote branch\n' "$path" ;;
        other-refs)
          n=${detail%%$'\t'*}
          IFS=$'\t' read -r -a names <<<"${detail#*$'\t'}"
          list=""
          for target in "${names[@]}"; do list+="${list:+, }$(clean_text "$target")"; done
          [ "$n" -gt "${#names[@]}" ] 2>/dev/null && list+=", ..."
          printf 'repo\t%s\tcommits only on refs no remote branch contains (%s)\n' "$path" "$list"
          ;;
        worktree-outside)
          printf 'repo\t%s\ta worktree outside the code dir (%s)\n' "$path" "$(clean_text "$detail")"
          ;;
        unreadable)
          printf 'repo\t%s\tnot a readable Git repository (%s)\n' "$path" "$(clean_text "$detail")"
          ;;
        *)
          printf 'repo\t%s\tcannot be checked (%s)\n' "$path" "$(clean_text "$detail")"
          ;;
      esac
      status=1
    done <"$work/repos"
  fi
  # 3. Regular files outside every repository and every unreadable directory.
  for path in "${skip[@]}"; do
    prune+=(-path "$(printf '%s' "$path" | sed 's/[][*?\\]/\\&/g')" -o)
  done
  find "$code_dir" \( "${prune[@]}" -false \) -prune -o -type f -print0 >"$work/loose" 2>/dev/null || true
  n=0
  while IFS= read -r -d '' path; do
    n=$((n + 1))
    if [ "$n" -le 5 ]; then
      printf 'loose\t%s\n' "$(relative "$path")"
    fi
  done <"$work/loose"
  printf 'loose-count\t%s\n' "$n"
  if [ "$n" -gt 0 ]; then
    status=1
  fi
  finish "$status"
}
dvm_dirty_check </dev/null
