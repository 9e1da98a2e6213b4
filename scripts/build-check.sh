#!/usr/bin/env bash
# Compiles (does not test) the other standard builds, warnings as errors,
# the CUDA backend included where the toolkit is: a Release build with gcc
# and a Debug build with clang, the Python extension in both. The test suite runs on the default
# (RelWithDebInfo, gcc) build in scripts/test.sh.
#
#   scripts/build-check.sh            both, in build-release/ and build-clang/
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh
mi_install_deps
jobs=$(nproc)
build() { # dir, then cmake arguments
  local dir=$1
  shift
  echo "== $dir: $*"
  cmake -S . -B "$dir" -DMI_MODELS_DIR="$root/build/models" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "== $dir: built"
}
build build-release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DMI_PYTHON=ON
build build-clang -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DMI_PYTHON=ON
