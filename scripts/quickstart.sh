#!/usr/bin/env bash
# Installs what `dvm` builds with (Debian packages; elsewhere it prints what to install), builds
# `dvm`, and runs the main job on the bundled example VM "demo": `dvm init demo`, then
# `dvm sync demo` when a usable limactl (Lima >= 2.0) is installed, else
# `dvm plan demo --summary`. It ends with the next steps: where dvm is and how to install it.
# The example's config lives in build/example-config unless DVM_CONFIG is set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/dependencies.sh --build
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
  "$dvm" sync demo
  see="dvm status demo; dvm sh demo"
else
  echo "+ dvm plan demo --summary    (no usable limactl here: what \`dvm sync demo\` would do)"
  "$dvm" plan demo --summary
  see="dvm plan demo | less"
fi
cat <<NEXT

Next steps
  dvm is      $PWD/$dvm (one self-contained binary)
  install it  sudo install -m 0755 $PWD/$dvm /usr/local/bin/dvm
              (or: cmake --install $PWD/build/release --prefix ~/.local, which adds libdvm and its headers)
  the demo    export DVM_CONFIG=$DVM_CONFIG; $see
  your VM     README.md, "A short tour": dvm init app, dvm sync app, ...
NEXT
