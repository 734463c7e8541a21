# Description: delta, a syntax-highlighting pager for git diffs
dvm_pkg_install git-delta
