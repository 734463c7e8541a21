# Description: zsh, made the login shell of the guest user
dvm_pkg_install zsh shadow-utils

local zsh_path=/usr/bin/zsh login_shell
if [ ! -x "$zsh_path" ]; then
	zsh_path="$(command -v zsh)" || {
		dvm_die "zsh is not on PATH after installing it"
		return
	}
fi
login_shell="$(getent passwd "$DVM_USER" | cut -d: -f7)"
if [ "$login_shell" != "$zsh_path" ]; then
	dvm_info "login shell of $DVM_USER: $login_shell -> $zsh_path (from the next login)"
	sudo usermod --shell "$zsh_path" "$DVM_USER"
fi
