"""limasim: a stand-in for Lima's `limactl` used by libdvm's end-to-end tests.

The package is imported by the `limactl` entry script next to it and by
`limasim_fixture.py`.  See tests/limasim/README.md for the behaviour it emulates.
"""

import os

# Directory that holds the `limactl` entry script (tests/limasim).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMACTL = os.path.join(ROOT, "limactl")
PKG_DIR = os.path.dirname(os.path.abspath(__file__))
GUEST_DIR = os.path.join(PKG_DIR, "guest")
TEMPLATES_DIR = os.path.join(ROOT, "templates")


class Exit(Exception):
    """Terminates the current limactl invocation with an exit code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code
