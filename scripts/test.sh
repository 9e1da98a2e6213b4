#!/usr/bin/env bash
# Sets up (missing Debian packages only), builds and runs the test suite.
#
#   scripts/test.sh              plain build in build/, every test, then the
#                                Python package (scripts/test-python.sh)
#   scripts/test.sh --sanitize   ASan + UBSan build in build-san/, every test
#
# Extra arguments after -- go to ctest (e.g. -- -R planner).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh

build=build
cmake_args=()
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) build=build-san; cmake_args+=(-DMI_SANITIZE=ON -DMI_BENCH=OFF) ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: scripts/test.sh [--sanitize] [-- ctest args]" >&2; exit 2 ;;
  esac
  shift
done

mi_install_deps
jobs=$(nproc)
# Both builds share one model zoo: the exports take minutes, the models do not depend on the build.
cmake -S . -B "$build" -DMI_MODELS_DIR="$root/build/models" "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
# LeakSanitizer needs ptrace-free leak checks inside Criterion's forked workers.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure -j "$jobs" "${ctest_args[@]}"
# The Python package once, with the plain build's models (not per ctest filter).
if [ "$build" = build ] && [ ${#ctest_args[@]} -eq 0 ]; then
  bash "$root/scripts/test-python.sh"
fi
