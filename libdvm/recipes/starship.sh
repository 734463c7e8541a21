# Description: starship shell prompt (pinned release v1.25.1, sha256-verified)
# Release: https://github.com/starship/starship/releases/tag/v1.25.1
# Override per VM with [env] PIN_STARSHIP_URL / PIN_STARSHIP_SHA256 (both).
local url sha arch
arch="$(dvm_arch)"
case "$arch" in
x86_64)
	url=https://github.com/starship/starship/releases/download/v1.25.1/starship-x86_64-unknown-linux-gnu.tar.gz
	sha=4488c11ca632327d1f1f16fb2f102c0646094c35479cd5435991385da43c61ac
	;;
aarch64)
	url=https://github.com/starship/starship/releases/download/v1.25.1/starship-aarch64-unknown-linux-musl.tar.gz
	sha=01517aab398959ea9ea73bdb4f032ea4dbb51dff5c8e5eb05b4a1b9b7ab872b8
	;;
esac
dvm_pinned_install starship tar.gz "$url" "$sha" starship
