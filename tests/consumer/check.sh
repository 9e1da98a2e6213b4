#!/usr/bin/env bash
# The installed library as a user meets it. Installs the build into a
# prefix, then moves the prefix elsewhere (nothing may depend on where it
# was installed), and there:
#   builds tests/consumer/main.c four ways: find_package with the static
#   archive and with the shared library, pkg-config with mini_infer (shared)
#   and mini_infer-static; each program exports nothing, loads MODEL, runs it
#   on the CPU and asks for the CUDA backend (which must load where this
#   build has it, and then run or report that there is no GPU);
#   runs the installed CLI with --device cuda, which must find the
#   installed plugin.
#   check.sh BUILD_DIR SOURCE_DIR WORK_DIR MODEL cuda|no-cuda
set -euo pipefail
build=$1 src=$2 work=$3 model=$4 cuda=$5
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/installed" >/dev/null
mv "$work/installed" "$work/prefix"
prefix=$work/prefix
libdir=$(dirname "$(find "$prefix" -name mini_infer.pc)")
libdir=${libdir%/pkgconfig}

run() { # name, program: runs it and checks it exports none of the library's symbols
  local name=$1 exe=$2
  if nm -D --defined-only "$exe" | grep -q ' mi_'; then
    echo "consumer: FAIL: $name exports mini-infer symbols; a user's program does not"
    exit 1
  fi
  echo "== $name"
  "$exe" "$model" "$cuda"
}

for link in static shared; do
  cmake -S "$src/tests/consumer" -B "$work/cmake-$link" -DCMAKE_PREFIX_PATH="$prefix" -DMI_LINK=$link >/dev/null
  cmake --build "$work/cmake-$link" >/dev/null
  run "find_package, $link" "$work/cmake-$link/consumer"
done

# Ahead of, not instead of, the caller's path: that is where the .pc files of
# our own dependencies (libprotobuf-c) may be, when they are not in the system.
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
for pc in mini_infer mini_infer-static; do
  # shellcheck disable=SC2046
  cc -std=c11 -o "$work/consumer-$pc" "$src/tests/consumer/main.c" $(pkg-config --cflags --libs "$pc") -lm
  run "pkg-config $pc" "$work/consumer-$pc"
done

echo "== the installed CLI"
set +e
out=$("$prefix/bin/mini-infer" run "$model" --device cuda 2>&1)
rc=$?
set -e
echo "$out"
if [ "$cuda" = cuda ]; then
  if [ $rc -ne 0 ] && ! grep -q "no usable device" <<<"$out"; then
    echo "consumer: FAIL: the installed CLI did not load the installed CUDA backend"
    exit 1
  fi
elif ! grep -q "backend error" <<<"$out"; then
  echo "consumer: FAIL: expected the CLI to say the CUDA backend is not there"
  exit 1
fi
echo "consumer: PASS (find_package and pkg-config, static and shared, CLI; installed prefix moved)"
