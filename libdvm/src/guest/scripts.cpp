#include "guest/scripts.hpp"

#include "guest/shell.hpp"

namespace dvm::detail {

namespace {

// Shared first lines: strict mode and the values, quoted.
std::string header(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out = std::string(safe_guest_environment) + "set -euo pipefail\n";
  for (const auto& [name, value] : values) out += name + "=" + shell_quote(value) + "\n";
  return out;
}

constexpr std::string_view dirty_check_body = R"SH(
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
# Runs as the agent user (or the main user when there is none), in an empty environment:
# checks the repositories given as arguments and prints "<index>\t<finding>[\t<detail>]".
# shellcheck disable=SC2016 # expanded by the bash that runs it
repo_checker='
set -uo pipefail
export LC_ALL=C PATH=/usr/bin:/bin HOME=/nonexistent
umask 077
git_bin=$1 code_real=$2
shift 2
tmp=$(mktemp -d) || exit 1
trap '"'"'rm -rf -- "$tmp"'"'"' EXIT
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
  # Command-line configuration (protected, and later than the repository'"'"'s own): nothing
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
'

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
)SH";

constexpr std::string_view activity_probe = R"SH(
# dvm activity probe: is anyone using this VM?
reasons=()
uid=$(id -u)
if command -v pgrep >/dev/null 2>&1; then
  # -f: the command line, so "tmux: server" and renamed processes count too.
  pgrep -u "$uid" -f '^([^ ]*/)?tmux(:| |$)' >/dev/null 2>&1 && reasons+=(tmux)
  pgrep -u "$uid" -f '^([^ ]*/)?zellij( |$)' >/dev/null 2>&1 && reasons+=(zellij)
else
  comms=$(ps -u "$uid" -o comm= 2>/dev/null || true)
  grep -qxE 'tmux|zellij' <<<"$comms" && reasons+=(multiplexer)
fi
# An interactive shell: one of the user's shells on a terminal, other than this probe.
while read -r pid tty comm; do
  [ "$pid" = "$$" ] && continue
  [ "$tty" = "?" ] && continue
  case $comm in
    bash|zsh|fish|sh|ksh|-bash|-zsh|-sh) reasons+=(shell); break ;;
  esac
done < <(ps -u "$uid" -o pid=,tty=,comm= 2>/dev/null || true)
if command -v systemctl >/dev/null 2>&1; then
  for unit in "${units[@]}"; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then
      reasons+=("$unit")
    fi
  done
fi
if [ "${#reasons[@]}" -gt 0 ]; then
  echo "active: ${reasons[*]}"
  exit 1
fi
echo inactive
exit 0
)SH";

constexpr std::string_view ssh_key_body = R"SH(
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
)SH";

constexpr std::string_view gpg_key_body = R"SH(
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
)SH";

// `dvm cp` into the guest (SECURITY.md): the code dir is writable by the agent user, so a copy
// into it (or into a directory above it, whose copy descends into it) must never write through
// a symlink or hard link the agent put there, nor change the ACL of anything but what was
// copied. limactl copies into a fresh private staging directory next to the code dir instead
// (scp would follow the links); the install script then grants the ACLs there, where nothing
// can interfere, and moves each item into place by rename(2) from a working directory entered
// one component at a time: inside the code dir a component that is a symlink is refused, and
// each step is checked with `pwd -P`, so a link swapped in meanwhile is caught too. A rename
// relative to the working directory cannot be redirected, and it replaces a final link or hard
// link instead of writing through it.
constexpr std::string_view copy_common = R"SH(
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
)SH";

constexpr std::string_view copy_stage_body = R"SH(
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
)SH";

// `dvm cp` out of the guest: scp runs as the main user and follows links, so a link the agent
// made in the code dir (`x -> ~/.ssh/id_ed25519`) would carry the main user's files to the host.
// A source in the code dir whose path or (with -r) tree holds a symlink is refused.
constexpr std::string_view copy_out_check_body = R"SH(
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
printf 'checked\n'
)SH";

constexpr std::string_view copy_install_body = R"SH(
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
)SH";

}  // namespace

std::string absolute_guest_path(const vm_config& vm, const std::string& path) {
  if (path == "~") return vm.guest_home();
  if (path.starts_with("~/")) return vm.guest_home() + path.substr(1);
  if (path.starts_with("/")) return path;
  return vm.guest_home() + "/" + path;
}

std::string dirty_check_script(const vm_config& vm, std::string_view nonce) {
  std::string code_dir = absolute_guest_path(vm, vm.code_dir);
  return header({{"code_dir", code_dir}, {"agent_user", vm.agent_user}, {"nonce", std::string(nonce)}}) +
         std::string(dirty_check_body);
}

std::string activity_probe_script(const std::vector<std::string>& service_units) {
  // No -e: a probe step that fails must not end the probe early.
  std::string out = std::string(safe_guest_environment) + "set -uo pipefail\nunits=(";
  for (const auto& u : service_units) (out += ' ') += shell_quote(u);  // not `" " + x`: GCC 12 -O3 warns (-Wrestrict)
  return out + " )" + std::string(activity_probe);
}

std::string ssh_key_script(const vm_config& vm) {
  return header({{"name", vm.name}}) + std::string(ssh_key_body);
}

std::string gpg_key_script(const vm_config& vm) {
  return header({{"name", vm.name}}) + std::string(gpg_key_body);
}

std::string copy_stage_script(const vm_config& vm, const std::string& target) {
  return header({{"code_dir", absolute_guest_path(vm, vm.code_dir)}, {"target", target}}) +
         std::string(copy_common) + std::string(copy_stage_body);
}

std::string copy_out_check_script(const vm_config& vm, const std::vector<std::string>& sources, bool recursive) {
  std::string out = header({{"code_dir", absolute_guest_path(vm, vm.code_dir)}, {"recursive", recursive ? "1" : "0"}});
  out += "sources=(";
  for (const auto& src : sources) (out += ' ') += shell_quote(src);
  out += " )\n";
  return out + std::string(copy_common) + std::string(copy_out_check_body);
}

std::string copy_install_script(const vm_config& vm, const std::string& target, const std::string& staging,
                                const std::string& mode, const std::string& kind) {
  return header({{"agent_user", vm.agent_user},
                 {"vm_user", vm.user},
                 {"home", vm.guest_home()},
                 {"code_dir", absolute_guest_path(vm, vm.code_dir)},
                 {"target", target},
                 {"staging", staging},
                 {"mode", mode},
                 {"kind", kind}}) +
         std::string(copy_common) + std::string(copy_install_body);
}

std::vector<std::string> in_code_dir_command(const vm_config& vm,
                                             const std::vector<std::string>& argv) {
  // Lima quotes every argv element for the remote shell, so these arrive exactly as given;
  // the first word ("bash") has no '=', which Lima would read as an environment assignment.
  // `exec --`: a command word that starts with '-' is the program, not an option of exec.
  std::vector<std::string> out{"bash", "-c",
                               "mkdir -p -- \"$1\" && cd -- \"$1\" && shift && exec -- \"$@\"",
                               "dvm-exec", absolute_guest_path(vm, vm.code_dir)};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::string> login_shell_command(const vm_config& vm) {
  return {"bash", "-c",
          "mkdir -p -- \"$1\" && cd -- \"$1\"\n"
          "case ${TERM:-} in xterm-ghostty|ghostty) export TERM=xterm-256color ;; esac\n"
          "login_shell=$(getent passwd \"$(id -un)\" | cut -d: -f7)\n"
          "login_shell=${login_shell:-${SHELL:-/bin/bash}}\n"
          "export SHELL=\"$login_shell\"\n"
          "exec \"$login_shell\" -l",
          "dvm-sh", absolute_guest_path(vm, vm.code_dir)};
}

}  // namespace dvm::detail
