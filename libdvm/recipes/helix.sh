# Description: Helix modal text editor
dvm_pkg_install helix
