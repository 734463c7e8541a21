#!/usr/bin/env bash
# Makes sure the Debian packages libdvm builds and tests with are installed.
#   ./scripts/dependencies.sh           everything: the library, the CLI, the Python module and
#                                       the whole test suite (scripts/test.sh)
#   ./scripts/dependencies.sh --build   only what libdvm and the `dvm` CLI build with
#                                       (scripts/quickstart.sh)
# As root on Debian/Ubuntu it installs the missing ones with apt-get (one `apt-get update`
# first); anywhere else it prints what to install and fails.
set -euo pipefail

build_packages=(
  cmake g++ make                                 # build (g++ alone does not pull in make)
  libboost1.81-dev libboost-json1.81-dev libboost-filesystem1.81-dev  # Boost.JSON, Boost.Process v2
  libtomlplusplus-dev                            # config files (toml++)
  libyaml-cpp-dev                                # reading an instance's lima.yaml back
  libcli11-dev                                   # CLI argument parsing
  libssl-dev                                     # SHA-256 (libcrypto) of recipe fingerprints
)

# The Python module and the test suite.
suite_packages=(
  git                                            # the simulated guest's git (unsaved-work check, recipes)
  doctest-dev                                    # C++ unit tests
  pybind11-dev python3-dev                       # the Python module
  python3-pytest python3-yaml                    # Python tests and the Lima simulator
  bubblewrap acl sudo procps util-linux          # the simulator's guest sandbox
  gnupg openssh-client                           # real gpg / ssh-keygen in the guest sandbox
  shellcheck                                     # lint of the recipes and guest scripts
  pkgconf                                        # package.pkg_config (a consumer built from dvm.pc)
  zsh fish                                       # syntax checks of the completion scripts
  # Fuzzing (tests/fuzz): clang, plus libFuzzer and clang's ASan/UBSan runtimes, which are in
  # libclang-rt-14-dev (clang only recommends it). The ASan+UBSan build of the test suite uses
  # g++'s own runtimes, which come with g++.
  clang libclang-rt-14-dev
  python3-mypy                                   # `mypy --strict` of the Python package (python.mypy)
)

case "${1:-}" in
  "") packages=("${build_packages[@]}" "${suite_packages[@]}") ;;
  --build) packages=("${build_packages[@]}") ;;
  *) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "dependencies: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "dependencies: missing packages: ${missing[*]}" >&2
echo "dependencies: install them, e.g.: sudo apt-get install ${missing[*]}" >&2
exit 1
