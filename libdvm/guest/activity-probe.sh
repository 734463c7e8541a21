# activity-probe.sh: is anyone using this VM? (guest/scripts.cpp, activity_probe_script()).
# Prints "active: <reasons>" and exits 1, or prints "inactive" and exits 0.
# Inputs (set by the C++ side before this text, after safe-environment.sh and
# `set -uo pipefail`): units, an array of systemd units that count as activity when active.
# shellcheck disable=SC2154 # units is the input named above
# shellcheck shell=bash

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
