#include "guest/scripts.hpp"

#include "guest/shell.hpp"

namespace dvm::detail {

namespace {

// Shared first lines: strict mode and the values, quoted.
std::string header(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out = "set -euo pipefail\n";
  for (const auto& [name, value] : values) out += name + "=" + shell_quote(value) + "\n";
  return out;
}

constexpr std::string_view dirty_check_body = R"SH(
# Unsaved work under the code dir: every Git repository (a .git directory or file at any depth)
# and every regular file outside all repositories.
if [ ! -d "$code_dir" ]; then
  exit 0
fi
if ! command -v git >/dev/null 2>&1; then
  printf 'incomplete\tgit is not installed in the guest, so repositories cannot be checked\n'
  exit 2
fi
relative() {
  if [ "$1" = "$code_dir" ]; then printf '.'; else printf '%s' "${1#"$code_dir"/}"; fi
}
dirty=0
repos=()
while IFS= read -r -d '' marker; do
  repos+=("${marker%/.git}")
done < <(find "$code_dir" -name .git \( -type d -o -type f \) -prune -print0 2>/dev/null)
for repo in "${repos[@]}"; do
  rel=$(relative "$repo")
  g() { git -c safe.directory='*' -C "$repo" "$@"; }
  if ! g rev-parse --git-dir >/dev/null 2>&1; then
    printf 'repo\t%s\t%s\n' "$rel" "not a readable Git repository"
    dirty=1
    continue
  fi
  if ! g diff --quiet --ignore-submodules=none 2>/dev/null; then
    printf 'repo\t%s\t%s\n' "$rel" "unstaged changes"; dirty=1
  fi
  if ! g diff --cached --quiet 2>/dev/null; then
    printf 'repo\t%s\t%s\n' "$rel" "staged changes"; dirty=1
  fi
  if [ -n "$(g ls-files --others --exclude-standard --directory --no-empty-directory 2>/dev/null | head -n 1)" ]; then
    printf 'repo\t%s\t%s\n' "$rel" "untracked files"; dirty=1
  fi
  if g rev-parse --verify --quiet refs/stash >/dev/null 2>&1; then
    printf 'repo\t%s\t%s\n' "$rel" "stash"; dirty=1
  fi
  if g rev-parse --verify --quiet HEAD >/dev/null 2>&1; then
    if [ -n "$(g rev-list --max-count=1 HEAD --branches --tags --not --remotes 2>/dev/null)" ]; then
      printf 'repo\t%s\t%s\n' "$rel" "commits not on any remote branch"; dirty=1
    fi
  fi
done
count=0
while IFS= read -r -d '' file; do
  count=$((count + 1))
  if [ "$count" -le 5 ]; then
    printf 'loose\t%s\n' "$(relative "$file")"
  fi
done < <(find "$code_dir" -type d -exec test -e '{}/.git' ';' -prune -o -type f -print0 2>/dev/null)
printf 'loose-count\t%s\n' "$count"
if [ "$count" -gt 0 ]; then
  dirty=1
fi
exit "$dirty"
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

constexpr std::string_view acl_body = R"SH(
# Give the agent user access to what `dvm cp` just copied into the code dir.
command -v setfacl >/dev/null 2>&1 || exit 0
command -v realpath >/dev/null 2>&1 || exit 0
id "$agent_user" >/dev/null 2>&1 || exit 0
code_real=$(realpath -m -- "$code_dir")
target_real=$(realpath -m -- "$target")
case $target_real in
  "$code_real" | "$code_real"/*) ;;
  *) exit 0 ;;
esac
sudo -n setfacl -m "u:$agent_user:--x" "$home" 2>/dev/null || true
sudo -n setfacl -m "u:$agent_user:--x" "$(dirname -- "$code_real")" 2>/dev/null || true
for u in "$agent_user" "$vm_user"; do
  sudo -n setfacl -m "u:$u:rwx" -m "d:u:$u:rwx" "$code_real" 2>/dev/null || true
done
items=()
if [ -d "$target_real" ] && [ "${#names[@]}" -gt 0 ]; then
  for n in "${names[@]}"; do
    [ -e "$target_real/$n" ] && items+=("$target_real/$n")
  done
else
  items+=("$target_real")
fi
for item in "${items[@]}"; do
  for u in "$agent_user" "$vm_user"; do
    sudo -n setfacl -R -m "u:$u:rwX" "$item" 2>/dev/null || true
    if [ -d "$item" ]; then
      sudo -n find "$item" -type d -exec setfacl -m "d:u:$u:rwx" {} + 2>/dev/null || true
    fi
  done
done
exit 0
)SH";

}  // namespace

std::string absolute_guest_path(const vm_config& vm, const std::string& path) {
  if (path == "~") return vm.guest_home();
  if (path.starts_with("~/")) return vm.guest_home() + path.substr(1);
  if (path.starts_with("/")) return path;
  return vm.guest_home() + "/" + path;
}

std::string dirty_check_script(const vm_config& vm) {
  std::string code_dir = absolute_guest_path(vm, vm.code_dir);
  return header({{"code_dir", code_dir}}) + std::string(dirty_check_body);
}

std::string activity_probe_script(const std::vector<std::string>& service_units) {
  // No -e: a probe step that fails must not end the probe early.
  std::string out = "set -uo pipefail\nunits=(";
  for (const auto& u : service_units) out += " " + shell_quote(u);
  return out + " )" + std::string(activity_probe);
}

std::string ssh_key_script(const vm_config& vm) {
  return header({{"name", vm.name}}) + std::string(ssh_key_body);
}

std::string gpg_key_script(const vm_config& vm) {
  return header({{"name", vm.name}}) + std::string(gpg_key_body);
}

std::string acl_refresh_script(const vm_config& vm, const std::string& target,
                               const std::vector<std::string>& names) {
  std::string out = header({{"agent_user", vm.agent_user},
                            {"vm_user", vm.user},
                            {"home", vm.guest_home()},
                            {"code_dir", absolute_guest_path(vm, vm.code_dir)},
                            {"target", target}});
  out += "names=(";
  for (const auto& n : names) out += " " + shell_quote(n);
  out += " )\n";
  return out + std::string(acl_body);
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
