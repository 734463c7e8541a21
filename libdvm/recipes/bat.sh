# Description: bat, cat with syntax highlighting (rebuilds its cache when custom themes or syntaxes change)
dvm_pkg_install bat

# `bat cache --build` is only needed for user themes/syntaxes (from dotfiles). Rebuild only
# when one of them is newer than the cache, so an unchanged VM is left alone.
local config_dir cache_dir d
local -a sources=()
config_dir="$(bat --config-dir)"
cache_dir="$(bat --cache-dir)"
for d in "$config_dir/themes" "$config_dir/syntaxes"; do
	if [ -d "$d" ]; then
		sources+=("$d")
	fi
done
[ "${#sources[@]}" -gt 0 ] || return 0
if [ ! -e "$cache_dir/themes.bin" ] ||
	[ -n "$(find "${sources[@]}" -newer "$cache_dir/themes.bin" -print -quit)" ]; then
	dvm_info "rebuilding the bat cache"
	bat cache --build
fi
