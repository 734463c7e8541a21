#!/usr/bin/env bash
# Installs what libdvm needs (Debian packages; elsewhere it prints what to install), builds
# `dvm`, and runs the main job on the bundled example VM "demo": `dvm init demo`, then
# `dvm sync demo` when a usable limactl (Lima >= 2.0) is installed, else `dvm plan demo`.
# The example's config lives in build/example-config unless DVM_CONFIG is set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/dependencies.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDVM_BUILD_TESTS=OFF \
  -DDVM_BUILD_EXAMPLES=OFF -DDVM_BUILD_PYTHON=OFF >/dev/null
cmake --build build/release -j "$jobs"
dvm=build/release/dvm
export DVM_CONFIG="${DVM_CONFIG:-$PWD/build/example-config}"
echo "+ dvm init demo    (DVM_CONFIG=$DVM_CONFIG)"
"$dvm" init demo
if "$dvm" version --json 2>/dev/null | grep -q '"limactl":"'; then
  echo "+ dvm sync demo"
  exec "$dvm" sync demo
fi
echo "+ dvm plan demo    (no usable limactl here: showing what \`dvm sync demo\` would do)"
exec "$dvm" plan demo
