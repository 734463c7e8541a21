# Description: yazi terminal file manager, with its `ya` helper (pinned release v26.1.22, sha256-verified)
# Release: https://github.com/sxyazi/yazi/releases/tag/v26.1.22
# Override per VM with [env] PIN_YAZI_URL / PIN_YAZI_SHA256 (both).
local url sha arch
arch="$(dvm_arch)"
case "$arch" in
x86_64)
	url=https://github.com/sxyazi/yazi/releases/download/v26.1.22/yazi-x86_64-unknown-linux-gnu.zip
	sha=a136269b2d5fbb5fb43f3fac3391446e8fbc72aba1c4bb4fae6e6d1556420750
	;;
aarch64)
	url=https://github.com/sxyazi/yazi/releases/download/v26.1.22/yazi-aarch64-unknown-linux-gnu.zip
	sha=f5a9d7062ae30b75c1e0481d3132aa54c14bacf76efb1b39b54b6d5d08b7c537
	;;
esac
dvm_pinned_install yazi zip "$url" "$sha" yazi ya
