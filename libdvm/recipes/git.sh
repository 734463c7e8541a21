# Description: Git version control
dvm_pkg_install git
