# Description: Python 3 with pip and uv
dvm_pkg_install python3 python3-pip uv
