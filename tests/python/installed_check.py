"""ctest python.installed: the package that `cmake --install` put below a prefix imports from
there (PYTHONPATH=<prefix>/<DVM_PYTHON_INSTALL_DIR>) and works.

    installed_check.py PACKAGE_DIR VERSION
"""

import os
import sys
import tempfile

import dvm

package_dir, version = os.path.realpath(sys.argv[1]), sys.argv[2]
print(dvm.__file__, dvm.__version__)
assert os.path.dirname(os.path.realpath(dvm.__file__)) == package_dir, "imported from elsewhere"
assert dvm.__version__ == version, (dvm.__version__, version)
for shipped in ("py.typed", "_dvm.pyi"):
    assert os.path.isfile(os.path.join(package_dir, shipped)), shipped
assert dvm.parse_size("1GiB") == 1 << 30
with tempfile.TemporaryDirectory() as tmp:
    client = dvm.Client(config_dir=tmp, state_dir=tmp, environment={})
    assert client.init_config("demo").created
    assert client.vm_names() == ["demo"]
print("ok")
