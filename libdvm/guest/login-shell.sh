# login-shell.sh: the `bash -c` text of `dvm sh` (guest/scripts.cpp, login_shell_command()):
# enters the code dir (created if missing) and replaces itself with the user's login shell.
# Inputs: $1, the code dir (absolute).
# shellcheck shell=bash
# shellcheck disable=SC2164 # when the code dir cannot be entered, the login shell still starts (in the login directory)
mkdir -p -- "$1" && cd -- "$1"
case ${TERM:-} in xterm-ghostty|ghostty) export TERM=xterm-256color ;; esac
login_shell=$(getent passwd "$(id -un)" | cut -d: -f7)
login_shell=${login_shell:-${SHELL:-/bin/bash}}
export SHELL="$login_shell"
exec "$login_shell" -l
