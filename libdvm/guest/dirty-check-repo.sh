# dirty-check-repo.sh: the repository part of dirty-check.sh, passed to it as repo_checker and run
# as `env -i bash --noprofile --norc -c "$repo_checker" dvm-repo-check GIT CODE_REAL REPO...`,
# as the agent user (or the main user when there is none), in an empty environment. Checks the
# repositories given as arguments and prints "<index>\t<finding>[\t<detail>]" lines, then "end".
# Inputs: the arguments above.
# shellcheck shell=bash
set -uo pipefail
export LC_ALL=C PATH=/usr/bin:/bin HOME=/nonexistent
umask 077
git_bin=$1 code_real=$2
shift 2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf -- "$tmp"' EXIT
say() {
  local a
  printf "%s\t%s" "$index" "$1"
  shift
  for a in "$@"; do printf "\t%s" "${a//[[:cntrl:]]/?}"; done
  printf "\n"
}
first_error() { head -n 1 "$tmp/err" | tr -d "\r"; }
check_repo() {
  local repo=$1 real parent top line name n=0 entry record
  local -a cfg=() heads=() others=() named=()
  real=$(realpath -e -- "$repo" 2>/dev/null) || { say error "cannot be read"; return; }
  parent=$(dirname -- "$real")
  # Command-line configuration (protected, and later than the repository's own): nothing
  # the repository configures may run a program.
  cfg=(safe.directory "$real" core.fsmonitor false core.hooksPath /dev/null
       core.untrackedCache false core.attributesFile /dev/null core.pager cat
       protocol.allow never gc.auto 0 maintenance.auto false submodule.recurse false)
  g() {
    local -a envs=("GIT_CONFIG_COUNT=$(( ${#cfg[@]} / 2 ))")
    local i
    for (( i = 0; i < ${#cfg[@]} / 2; i++ )); do
      envs+=("GIT_CONFIG_KEY_$i=${cfg[2*i]}" "GIT_CONFIG_VALUE_$i=${cfg[2*i+1]}")
    done
    env -i PATH=/usr/bin:/bin HOME=/nonexistent LC_ALL=C GIT_CONFIG_NOSYSTEM=1 \
      GIT_CONFIG_GLOBAL=/dev/null GIT_ATTR_NOSYSTEM=1 GIT_OPTIONAL_LOCKS=0 \
      GIT_TERMINAL_PROMPT=0 GIT_ALLOW_PROTOCOL= GIT_NO_REPLACE_OBJECTS=1 GIT_PAGER=cat \
      PAGER=cat GIT_CEILING_DIRECTORIES="$parent" "${envs[@]}" \
      "$git_bin" --no-pager -C "$real" "$@" 2>"$tmp/err"
  }
  top=$(g rev-parse --show-toplevel) || { say unreadable "$(first_error)"; return; }
  if [ "$top" != "$real" ]; then
    say unreadable "its work tree is configured elsewhere ($top)"
    return
  fi
  # Filter drivers (filter.<name>.clean/smudge/process) run programs when git compares file
  # contents: switch off every one the repository (or a file it includes) defines.
  g config --name-only --list -z >"$tmp/config" || { say error "$(first_error)"; return; }
  while IFS= read -r -d "" name; do
    case $name in
      filter.*.clean | filter.*.smudge | filter.*.process | filter.*.required)
        name=${name#filter.}
        name=${name%.*}
        cfg+=("filter.$name.clean" "" "filter.$name.smudge" "" "filter.$name.process" ""
              "filter.$name.required" false)
        ;;
    esac
  done <"$tmp/config"
  g status --porcelain -z --no-renames --untracked-files=normal --ignore-submodules=dirty \
    >"$tmp/status" || { say error "$(first_error)"; return; }
  local staged=0 unstaged=0 untracked=0
  while IFS= read -r -d "" entry; do
    case ${entry:0:2} in
      "??") untracked=1 ;;
      *)
        [ "${entry:0:1}" != " " ] && staged=1
        [ "${entry:1:1}" != " " ] && unstaged=1
        ;;
    esac
  done <"$tmp/status"
  [ "$unstaged" = 1 ] && say unstaged
  [ "$staged" = 1 ] && say staged
  [ "$untracked" = 1 ] && say untracked
  if g rev-parse --verify --quiet refs/stash >/dev/null; then say stash; fi
  if g rev-parse --verify --quiet HEAD >/dev/null; then heads=(HEAD); fi
  line=$(g rev-list --max-count=1 "${heads[@]}" --branches --tags --not --remotes) ||
    { say error "$(first_error)"; return; }
  [ -n "$line" ] && say unpushed
  # Refs outside refs/heads, refs/tags and refs/remotes (refs/jj/..., refs/notes/...): work
  # that would be lost unless a remote-tracking ref contains it.
  g for-each-ref --format="%(refname)" >"$tmp/refs" || { say error "$(first_error)"; return; }
  while IFS= read -r name; do
    case $name in
      refs/heads/* | refs/tags/* | refs/remotes/* | refs/stash | refs/prefetch/*) ;;
      *) others+=("$name") ;;
    esac
  done <"$tmp/refs"
  if [ "${#others[@]}" -gt 0 ]; then
    line=$(printf "%s\n" "${others[@]}" | g rev-list --max-count=1 --stdin --not --remotes) ||
      { say error "$(first_error)"; return; }
    if [ -n "$line" ]; then
      for name in "${others[@]}"; do
        line=$(g rev-list --max-count=1 "$name" --not --remotes) || line=x
        if [ -n "$line" ]; then
          n=$((n + 1))
          [ "$n" -le 3 ] && named+=("$name")
        fi
      done
      say other-refs "$n" "${named[@]}"
    fi
  fi
  # Worktrees of this repository outside the code dir: their work is deleted with the VM but
  # never looked at here.
  g worktree list --porcelain -z >"$tmp/worktrees" || { say error "$(first_error)"; return; }
  record=()
  while IFS= read -r -d "" entry; do
    if [ -n "$entry" ]; then
      record+=("$entry")
      continue
    fi
    check_worktree "${record[@]}"
    record=()
  done <"$tmp/worktrees"
  [ "${#record[@]}" -gt 0 ] && check_worktree "${record[@]}"
  return 0
}
check_worktree() {
  local path="" field real
  for field in "$@"; do
    case $field in
      "worktree "*) path=${field#worktree } ;;
      prunable | "prunable "*) return 0 ;;
    esac
  done
  [ -n "$path" ] || return 0
  real=$(realpath -m -- "$path")
  case $real/ in
    "$code_real"/*) ;;
    *) say worktree-outside "$path" ;;
  esac
}
index=0
for repo in "$@"; do
  check_repo "$repo"
  index=$((index + 1))
done
printf "end\n"
