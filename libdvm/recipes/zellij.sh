# Description: Zellij terminal multiplexer (pinned release v0.44.2, sha256-verified)
# Release: https://github.com/zellij-org/zellij/releases/tag/v0.44.2
# Override per VM with [env] PIN_ZELLIJ_URL / PIN_ZELLIJ_SHA256 (both).
local url sha arch
arch="$(dvm_arch)"
case "$arch" in
x86_64)
	url=https://github.com/zellij-org/zellij/releases/download/v0.44.2/zellij-x86_64-unknown-linux-musl.tar.gz
	sha=26e1753b4c8451912523c7d8700c5aed75392ea57f0b1c988560f3bbc7775744
	;;
aarch64)
	url=https://github.com/zellij-org/zellij/releases/download/v0.44.2/zellij-aarch64-unknown-linux-musl.tar.gz
	sha=e0b2ddbf050d58577b09b2a032a54f1a3fac0e214d1605c5969e8936340fff6b
	;;
esac
dvm_pinned_install zellij tar.gz "$url" "$sha" zellij
