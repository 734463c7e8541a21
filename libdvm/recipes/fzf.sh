# Description: fzf fuzzy finder
dvm_pkg_install fzf
