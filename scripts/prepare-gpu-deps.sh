#!/usr/bin/env bash
# Prepares, on a Debian 12 machine with apt (a developer's machine or CI),
# what a bare GPU machine lacks to build and test mini-infer, so that
# scripts/gpu-check.sh can run there with no package manager and no
# network. The GPU machine is expected to have the CUDA toolkit (nvcc,
# cuBLAS, NVTX headers), CMake, a C compiler and a python3 with torch,
# torchvision and onnx; cuDNN may exist only inside a pip wheel.
#
#   scripts/prepare-gpu-deps.sh            downloads and unpacks into .deps/
#
# What it brings, as Debian 12 .deb files fetched with `apt-get download`
# (no install) and unpacked with `dpkg -x` into .deps/root (ignored by git;
# carry it to the GPU machine with the working tree):
#   - protoc-c and libprotobuf-c, to generate and link the ONNX parser
#     (protoc-c needs libprotoc32 and libprotobuf32);
#   - onnx.proto, from libonnx-dev (only that file is used);
#   - Criterion with the libraries libcriterion.so.3 loads (libgit2 1.5,
#     nanomsg, mbedtls, http-parser, libssh2);
#   - pkgconf, for CMake's FindPkgConfig.
# Fallbacks, unpacked apart into .deps/fallback and used only for the
# libraries the GPU machine lacks (env.sh asks ldconfig): Kerberos's GSSAPI
# (libgit2 needs it; slim images may not have it), libffi and PCRE2.
# The .pc files are made relocatable (prefix from their own folder), and
# criterion.pc loses its Requires.private/Libs.private lines (static linking
# only; they would make pkg-config look for boxfort, libgit2 ... .pc files).
# cuDNN's headers are copied from the local CUDA toolkit into .deps/cudnn,
# for a GPU machine whose cuDNN wheel ships the library without them.
# .deps/env.sh sets PATH, LD_LIBRARY_PATH, PKG_CONFIG_PATH,
# CMAKE_PREFIX_PATH and MI_ONNX_PROTO for the unpacked tree; gpu-check.sh
# sources it for the build and the tests (not for python, whose own
# libraries it could shadow).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
debs="$deps/debs"
tree="$deps/root"

PACKAGES=(
  protobuf-c-compiler libprotoc32 libprotobuf32 libprotobuf-c1 libprotobuf-c-dev
  libonnx-dev
  libcriterion3 libcriterion-dev libgit2-1.5 libnanomsg5 libhttp-parser2.9
  libmbedtls14 libmbedx509-1 libmbedcrypto7 libssh2-1
  pkgconf pkgconf-bin libpkgconf3
)
FALLBACK_PACKAGES=(
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2
  libffi8 libpcre2-8-0
)

if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "prepare-gpu-deps.sh: needs apt-get and dpkg (a Debian 12 machine)" >&2
  exit 1
fi
mkdir -p "$debs" "$tree"

missing=()
for p in "${PACKAGES[@]}" "${FALLBACK_PACKAGES[@]}"; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # apt-get download needs the package lists; fetch them once if empty.
  if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
  fi
  echo "downloading: ${missing[*]}"
  sandbox=()
  if [ "$(id -u)" -eq 0 ]; then sandbox=(-o APT::Sandbox::User=root); fi
  (cd "$debs" && apt-get download -qq "${sandbox[@]}" "${missing[@]}")
fi

is_fallback() {
  local p
  for p in "${FALLBACK_PACKAGES[@]}"; do
    case "$(basename "$1")" in "${p}"_*.deb) return 0 ;; esac
  done
  return 1
}
rm -rf "$tree" "$deps/fallback"
mkdir -p "$tree" "$deps/fallback"
for f in "$debs"/*.deb; do
  if is_fallback "$f"; then dpkg -x "$f" "$deps/fallback"; else dpkg -x "$f" "$tree"; fi
done

# Relocatable .pc files: ${pcfiledir} is where the .pc file is.
for pc in "$tree"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc "$tree"/usr/share/pkgconfig/*.pc; do
  [ -f "$pc" ] || continue
  # shellcheck disable=SC2016 # ${pcfiledir} is pkg-config's, not the shell's
  case "$pc" in
    */usr/lib/x86_64-linux-gnu/pkgconfig/*) rel='${pcfiledir}/../../..' ;;
    *) rel='${pcfiledir}/../..' ;;
  esac
  sed -i -e "s|^prefix=/usr\$|prefix=$rel|" \
         -e "s|^libdir=/usr/lib/x86_64-linux-gnu\$|libdir=\${prefix}/lib/x86_64-linux-gnu|" \
         -e "s|^includedir=/usr/include\$|includedir=\${prefix}/include|" "$pc"
done
sed -i -e '/^Requires.private:/d' -e '/^Libs.private:/d' "$tree/usr/lib/x86_64-linux-gnu/pkgconfig/criterion.pc"

# cuDNN headers matching a cuDNN 9 library, for a wheel without them.
if compgen -G "/usr/local/cuda/include/cudnn*.h" >/dev/null; then
  mkdir -p "$deps/cudnn/include"
  cp /usr/local/cuda/include/cudnn*.h "$deps/cudnn/include/"
fi

cat >"$deps/env.sh" <<'EOF'
# Source me: the packages scripts/prepare-gpu-deps.sh unpacked beside me.
mi_deps_tree="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/root"
export PATH="$mi_deps_tree/usr/bin:$PATH"
export LD_LIBRARY_PATH="$mi_deps_tree/usr/lib/x86_64-linux-gnu:$mi_deps_tree/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PKG_CONFIG_PATH="$mi_deps_tree/usr/lib/x86_64-linux-gnu/pkgconfig:$mi_deps_tree/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export CMAKE_PREFIX_PATH="$mi_deps_tree/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export MI_ONNX_PROTO="$mi_deps_tree/usr/include/onnx/onnx.proto"
# Fallback libraries only where the system has none of that name: a copy
# from here must never shadow the machine's own (newer) one.
mi_fallback="$(dirname "$mi_deps_tree")/fallback"
mi_active="$mi_fallback/active"
mkdir -p "$mi_active" && rm -f "$mi_active"/*
mi_ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
mi_known=$("$mi_ldconfig" -p 2>/dev/null)
for mi_so in "$mi_fallback"/usr/lib/x86_64-linux-gnu/lib*.so.[0-9] "$mi_fallback"/usr/lib/x86_64-linux-gnu/lib*.so.[0-9][0-9] \
             "$mi_fallback"/lib/x86_64-linux-gnu/lib*.so.[0-9] "$mi_fallback"/lib/x86_64-linux-gnu/lib*.so.[0-9][0-9]; do
  [ -e "$mi_so" ] || continue
  if ! printf '%s\n' "$mi_known" | grep -q "^[[:space:]]*$(basename "$mi_so") "; then
    ln -sf "$mi_so" "$mi_active/$(basename "$mi_so")"
  fi
done
export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$mi_active"
unset mi_fallback mi_active mi_ldconfig mi_known mi_so
EOF

# A smoke test with the unpacked tree only.
(
  # shellcheck source=/dev/null
  . "$deps/env.sh"
  protoc-c --version | head -1
  pkg-config --modversion criterion libprotobuf-c | tr '\n' ' '
  echo
  test -f "$MI_ONNX_PROTO"
)
echo "prepared $deps ($(du -sh "$deps" | cut -f1)): carry .deps to the GPU machine, then run scripts/gpu-check.sh OUTDIR"
