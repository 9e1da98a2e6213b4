#!/usr/bin/env bash
# Installs what mini-infer needs to build and test, quietly, and only the
# Debian packages that are missing. Sourced by test.sh and run.sh.
set -euo pipefail

MI_PACKAGES=(
  cmake make gcc pkg-config
  libcriterion-dev
  protobuf-c-compiler libprotobuf-c-dev
  libonnx-dev libonnx-testdata
  python3-torch python3-torchvision python3-onnx python3-numpy python3-dev python3-venv
  clang libclang-rt-14-dev valgrind
)

mi_install_deps() {
  local missing=()
  for p in "${MI_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
