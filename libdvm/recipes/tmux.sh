# Description: tmux terminal multiplexer
dvm_pkg_install tmux
