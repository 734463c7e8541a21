#!/usr/bin/env bash
# The whole test suite: installs missing Debian packages, builds libdvm, the CLI, the Python
# module, the examples and the tests with warnings as errors, and runs everything under ctest.
# The output ends with ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/dependencies.sh
build=${DVM_TEST_BUILD_DIR:-build/test}
jobs=$(nproc 2>/dev/null || echo 2)
# -g1 (line tables: file:line in backtraces) instead of -g: a quarter less compile time.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DDVM_WERROR=ON \
  -DDVM_BUILD_TESTS=ON -DDVM_BUILD_EXAMPLES=ON -DDVM_BUILD_PYTHON=ON >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
exec ctest --output-on-failure -j "$jobs"
