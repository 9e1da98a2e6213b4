#!/usr/bin/env bash
# Profiles mini-infer on the GPU with Nsight Systems: CUDA API calls,
# kernels (one by one inside CUDA Graphs too), cuDNN and cuBLAS, and the
# backend's NVTX ranges (one per run: "mi:run", "mi:capture", "mi:replay";
# one per node: "<op>:<node name>"), recorded only around the timed runs:
# the program brackets them with cudaProfilerStart/Stop and nsys captures
# that range alone (--capture-range=cudaProfilerApi).
#
#   scripts/profile.sh MODEL.onnx [OUT_PREFIX] [-- PROGRAM OPTIONS]
#
#   scripts/profile.sh build/models/resnet50/model.onnx
#   scripts/profile.sh build/models/resnet50/model.onnx /tmp/r50 -- --graph --batch 32
#
# The program is bench/bench_gpu from the build folder ($MI_BUILD, default
# build), run with --profile --runs 20 --warmup 5 and the options after
# --. MI_PROFILE_PROGRAM replaces it with any program that calls
# cudaProfilerStart/Stop itself (e.g. "build/mini-infer run --device cuda
# --bench 20"); the model path is appended. The report goes to
# OUT_PREFIX.nsys-rep (default <build>/profile/<model>-<time>), and a
# summary of the NVTX ranges and the kernels is printed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
model=$1
shift
prefix=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  prefix=$1
  shift
fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
extra=("$@")
if [ ! -f "$model" ]; then
  echo "profile.sh: no model at $model" >&2
  exit 1
fi
name=$(basename "$(dirname "$model")")
build="${MI_BUILD:-$root/build}"
if [ -z "$prefix" ]; then
  prefix="$build/profile/$name-$(date +%Y%m%d-%H%M%S)"
fi
mkdir -p "$(dirname "$prefix")"

nsys=$(command -v nsys || true)
if [ -z "$nsys" ]; then
  for c in /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda/bin/nsys /usr/local/cuda/nsight-systems-*/bin/nsys; do
    if [ -x "$c" ]; then
      nsys=$c
      break
    fi
  done
fi
if [ -z "$nsys" ]; then
  echo "profile.sh: nsys (Nsight Systems) not found; install it or put it on PATH" >&2
  exit 1
fi

if [ -n "${MI_PROFILE_PROGRAM:-}" ]; then
  read -r -a program <<<"$MI_PROFILE_PROGRAM"
  program+=("${extra[@]}" "$model")
else
  bench="$build/bench/bench_gpu"
  if [ ! -x "$bench" ]; then
    echo "profile.sh: $bench not built (cmake --build ${MI_BUILD:-build} --target bench_gpu)" >&2
    exit 1
  fi
  program=("$bench" "$model" --profile --runs 20 --warmup 5 "${extra[@]}")
fi

echo "profiling: ${program[*]}"
"$nsys" profile --trace=cuda,nvtx,cudnn,cublas,osrt --cuda-graph-trace=node \
  --capture-range=cudaProfilerApi --capture-range-end=stop \
  --force-overwrite=true -o "$prefix" "${program[@]}"
report="$prefix.nsys-rep"
if [ -f "$report" ]; then
  "$nsys" stats --report nvtx_sum,cuda_gpu_kern_sum --format table "$report" 2>/dev/null | head -80 || true
  echo "report: $report (open it with nsys-ui, or: nsys stats $report)"
else
  echo "profile.sh: nsys wrote no $report (see its messages above)" >&2
  exit 1
fi
