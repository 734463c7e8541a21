# Description: lazygit, a terminal UI for git (pinned release v0.61.1, sha256-verified)
# Release: https://github.com/jesseduffield/lazygit/releases/tag/v0.61.1
# Override per VM with [env] PIN_LAZYGIT_URL / PIN_LAZYGIT_SHA256 (both).
local url sha arch
arch="$(dvm_arch)"
case "$arch" in
x86_64)
	url=https://github.com/jesseduffield/lazygit/releases/download/v0.61.1/lazygit_0.61.1_linux_x86_64.tar.gz
	sha=1b91e660700f2332696726b635202576b543e2bc49b639830dccd26bc5160d5d
	;;
aarch64)
	url=https://github.com/jesseduffield/lazygit/releases/download/v0.61.1/lazygit_0.61.1_linux_arm64.tar.gz
	sha=20b1abb2bee5dfd46173b9047353eb678bc51a23839e821958d0b1863ab1655e
	;;
esac
dvm_pinned_install lazygit tar.gz "$url" "$sha" lazygit
