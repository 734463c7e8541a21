# Description: Node.js and npm, plus corepack ([env] COREPACK_VERSION, default 0.34.0, or "latest")
dvm_pkg_install nodejs npm

local want current corepack_bin bin_dir
want="$(dvm_setting COREPACK_VERSION 0.34.0)"
if [ "$want" = latest ]; then
	want="$(npm view corepack version </dev/null)" || {
		dvm_die "cannot look up the latest corepack version"
		return
	}
fi
if ! [[ "$want" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	dvm_die "[env] COREPACK_VERSION must be a version such as 0.34.0, or latest (got '$want')"
	return
fi

current=''
if command -v corepack >/dev/null 2>&1; then
	current="$(corepack --version 2>/dev/null </dev/null)" || current=''
fi
if [ "$current" != "$want" ]; then
	dvm_info "installing corepack $want${current:+ (was $current)}"
	sudo -H npm install --global --no-fund --no-audit "corepack@$want" </dev/null
	hash -r
fi

# `corepack enable` puts the yarn/pnpm shims next to corepack; run it only when they are missing.
corepack_bin="$(command -v corepack)" || {
	dvm_die "corepack is not on PATH after installing it"
	return
}
bin_dir="$(dirname -- "$corepack_bin")"
if [ ! -e "$bin_dir/pnpm" ] || [ ! -e "$bin_dir/yarn" ]; then
	dvm_info "enabling corepack shims (pnpm, yarn) in $bin_dir"
	sudo -H corepack enable --install-directory "$bin_dir" </dev/null
fi
