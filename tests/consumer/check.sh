#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then builds and runs
# a consumer both ways: CMake's find_package and pkg-config.
#   check.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer"
libdir=$(find "$work/prefix" -name mini_infer.pc -printf '%h\n' | head -1)
# Ahead of, not instead of, the caller's path: that is where the .pc files of
# our own dependencies (libprotobuf-c) may be, when they are not in the system.
export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046
cc -std=c11 -o "$work/consumer-pc" "$src/tests/consumer/main.c" $(pkg-config --cflags --libs --static mini_infer)
"$work/consumer-pc"
echo "consumer: PASS (find_package and pkg-config)"
