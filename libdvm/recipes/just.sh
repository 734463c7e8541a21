# Description: just command runner
dvm_pkg_install just
