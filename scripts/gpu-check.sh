#!/usr/bin/env bash
# Everything that needs a GPU, in one go, on a bare GPU machine: builds
# mini-infer with the CUDA backend for the card's architecture, exports the
# model zoo there, runs every test (the GPU ones included), runs
# compute-sanitizer memcheck over the CUDA op and model tests, and runs the
# GPU benchmark against PyTorch. It goes on past a failing step, so one call
# collects every result.
#
#   scripts/gpu-check.sh OUTDIR [STEP...]
#
# STEPs, in this order by default: build models probe tests bench sanitizer (a
# later call on the same machine may run the later steps alone: the build
# folder is kept). The model export runs beside the build when both are
# asked for. The sanitizer comes last: it is the slowest and changes no
# figure. OUTDIR gets at most eight files:
#   summary.md     machine, versions, each step's result, test counts, the
#                  failing and skipped tests, sanitizer errors, the bench table
#   build.log      configure, build and model export
#   tests.log      ctest --output-on-failure
#   sanitizer.log  compute-sanitizer memcheck
#   footprint.md   the device memory of a process step by step (cuda/footprint_probe.c),
#                  the stack limit left as it is and set, CUBLAS_WORKSPACE_CONFIG=:0:0
#   bench.md       mini-infer vs PyTorch (bench/gpu_vs_torch.py)
#   bench.jsonl    the raw bench results
#   bench.log      the bench's progress and errors
# The exit status is 0 when every step that ran passed.
#
# What the machine needs: the CUDA toolkit (nvcc, cuBLAS, NVTX headers),
# CMake, a C compiler, a python3 with torch, torchvision and onnx, and the
# driver. cuDNN 9 is found wherever it is: MI_CUDNN_ROOT, a pip wheel
# (nvidia.cudnn, with only libcudnn.so.9), or the toolkit. What it lacks
# (protobuf-c, protoc-c, Criterion, pkg-config, onnx.proto) comes from
# .deps/, made by scripts/prepare-gpu-deps.sh on a Debian machine and
# carried along with the working tree.
#
# Environment: MI_GPU_BUILD (build folder, default build-gpu), MI_GPU_JOBS,
# MI_CUDNN_ROOT, MI_BENCH_RUNS (100), MI_BENCH_MODELS, MI_BENCH_BATCHES,
# MI_BENCH_PRECISIONS (fp16,bf16: the fp32 and tf32 rows are in bench/results/gpu-h200.md), MI_SANITIZE_FILTER (tests under memcheck),
# MI_SANITIZE_TIMEOUT (seconds per memcheck run, 1200), MI_GPU_DEADLINE
# (seconds from the start: a step or memcheck run that would begin later is
# skipped and said so, and memcheck runs are cut to end by then; for a
# lease of fixed length, so that the summary is written before it ends).
set -u
set -o pipefail

if [ $# -lt 1 ]; then
  echo "usage: scripts/gpu-check.sh OUTDIR [build] [models] [probe] [tests] [sanitizer] [bench]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
shift
steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then steps=(build models probe tests bench sanitizer); fi
build="${MI_GPU_BUILD:-$root/build-gpu}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
jobs="${MI_GPU_JOBS:-$(nproc 2>/dev/null || echo 4)}"
summary="$out/summary.md"
results=()   # "step|status|seconds|note"
deadline="${MI_GPU_DEADLINE:-}"
t_start=$SECONDS
overall=0

# ---- helpers ------------------------------------------------------------------------------

note() { echo "== $*"; }

want() {
  local s
  for s in "${steps[@]}"; do
    if [ "$s" = "$1" ]; then
      if [ "$(left)" -le 0 ]; then
        record "$1" "not run" 0 "past MI_GPU_DEADLINE ($deadline s)"
        return 1
      fi
      return 0
    fi
  done
  return 1
}

# Seconds left before MI_GPU_DEADLINE (a large number without one).
left() {
  if [ -z "$deadline" ]; then echo 999999; else echo $((deadline - (SECONDS - t_start))); fi
}

record() { # step status seconds note
  results+=("$1|$2|$3|$4")
  if [ "$2" = "FAILED" ]; then overall=1; fi
  write_summary
}

# The unpacked packages, for the build and the C programs (python keeps its
# own library path: the packages' libraries could shadow its own).
with_deps() {
  (
    if [ -f "$root/.deps/env.sh" ]; then
      # shellcheck source=/dev/null
      . "$root/.deps/env.sh"
    fi
    if [ -n "${cudnn_lib_dir:-}" ]; then
      export LD_LIBRARY_PATH="$cudnn_lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    "$@"
  )
}

find_python() {
  local c
  for c in "${MI_PYTHON:-}" python3 /opt/torch/.venv/bin/python3 /usr/bin/python3 python; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

# Sets cudnn_lib (the library file), cudnn_lib_dir and cudnn_inc (folder
# with cudnn.h) from MI_CUDNN_ROOT, a pip wheel, or the toolkit.
find_cudnn() {
  local cands=() d f
  if [ -n "${MI_CUDNN_ROOT:-}" ]; then cands+=("$MI_CUDNN_ROOT"); fi
  if [ -n "${py:-}" ]; then
    d=$("$py" -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null) && cands+=("$d")
    while IFS= read -r d; do
      [ -n "$d" ] || continue
      while IFS= read -r f; do cands+=("$(dirname "$(dirname "$f")")"); done \
        < <(find "$d" -maxdepth 5 -name 'libcudnn.so.9' 2>/dev/null)
    done < <("$py" -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null)
  fi
  cands+=(/usr/local/cuda /usr/local/cuda/targets/x86_64-linux /usr /usr/lib/x86_64-linux-gnu)
  cudnn_lib=""
  for d in "${cands[@]}"; do
    for f in "$d/lib/libcudnn.so.9" "$d/lib64/libcudnn.so.9" "$d/libcudnn.so.9" "$d/lib/x86_64-linux-gnu/libcudnn.so.9"; do
      if [ -e "$f" ]; then
        cudnn_lib="$f"
        break 2
      fi
    done
  done
  [ -n "$cudnn_lib" ] || return 1
  cudnn_lib_dir=$(dirname "$cudnn_lib")
  cudnn_inc=""
  for d in "$cudnn_lib_dir/../include" "${MI_CUDNN_ROOT:-/nonexistent}/include" /usr/local/cuda/include /usr/include \
           "$root/.deps/cudnn/include"; do
    if [ -f "$d/cudnn.h" ] && [ -f "$d/cudnn_version.h" ]; then
      cudnn_inc=$(cd "$d" && pwd)
      break
    fi
  done
  [ -n "$cudnn_inc" ]
}

onnx_proto() {
  if [ -f "$root/.deps/root/usr/include/onnx/onnx.proto" ]; then
    echo "$root/.deps/root/usr/include/onnx/onnx.proto"
  elif [ -f /usr/include/onnx/onnx.proto ]; then
    echo /usr/include/onnx/onnx.proto
  elif [ -n "${py:-}" ]; then
    "$py" -c 'import onnx, os; p = os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"); print(p if os.path.exists(p) else "")'
  fi
}

count_tests() { # log: prints "passed failed skipped"
  local p f s
  p=$(grep -cE 'Test +#[0-9]+: .* Passed +[0-9.]+ sec' "$1")
  f=$(grep -cE 'Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)|Test +#[0-9]+: .*Not Run' "$1")
  s=$(grep -cE 'Test +#[0-9]+: .*\*\*\*Skipped' "$1")
  echo "$p $f $s"
}

write_summary() {
  {
    echo "# mini-infer GPU check"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), steps: ${steps[*]}, build folder ${build#"$root"/}"
    echo
    echo "## Machine"
    echo
    echo '```'
    echo "${machine:-(not read)}"
    echo '```'
    echo
    echo "## Steps"
    echo
    echo "| step | result | seconds | note |"
    echo "|---|---|---:|---|"
    local r
    for r in "${results[@]}"; do
      IFS='|' read -r a b c d <<<"$r"
      echo "| $a | $b | $c | $d |"
    done
    if [ -n "${test_detail:-}" ]; then
      echo
      echo "## Tests"
      echo
      echo "$test_detail"
    fi
    if [ -n "${sanitizer_detail:-}" ]; then
      echo
      echo "## compute-sanitizer memcheck"
      echo
      echo "$sanitizer_detail"
    fi
    if [ -f "$out/footprint.md" ]; then
      echo
      sed 's/^# /## /' "$out/footprint.md"
    fi
    if [ -f "$out/bench.md" ]; then
      echo
      sed 's/^# /## /' "$out/bench.md"
    fi
  } >"$summary"
}

# ---- the machine ------------------------------------------------------------------------------

py=$(find_python) || py=""
machine=$(
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1 | head -4
  else
    echo "nvidia-smi: not found"
  fi
  (nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version 2>&1) | tail -2 | head -1
  cmake --version 2>/dev/null | head -1
  if [ -n "$py" ]; then
    "$py" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
  else
    echo "no python with torch, torchvision and onnx"
  fi
)
arch=$( (nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null || true) | head -1 | tr -d ' .')
if ! [[ "$arch" =~ ^[0-9]+$ ]] && [ -n "$py" ]; then
  arch=$("$py" -c 'import torch; print("%d%d" % torch.cuda.get_device_capability())' 2>/dev/null)
fi
if ! [[ "${arch:-}" =~ ^[0-9]+$ ]]; then arch=90; fi
if find_cudnn; then
  machine+=$'\n'"cuDNN: $cudnn_lib (headers $cudnn_inc)"
else
  machine+=$'\n'"cuDNN 9: not found (set MI_CUDNN_ROOT)"
fi
machine+=$'\n'"CUDA architecture: sm_$arch; jobs: $jobs"
write_summary
note "machine:"
echo "$machine"
export PATH="$PATH:/usr/local/cuda/bin"

# ---- build --------------------------------------------------------------------------------------

models_pid=""
if want build; then
  t0=$SECONDS
  gen=()
  if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  if [ -d "$build" ] && [ -f "$build/CMakeCache.txt" ] && ! grep -q "CMAKE_GENERATOR:INTERNAL=${gen[1]:-Unix Makefiles}" "$build/CMakeCache.txt"; then
    rm -rf "$build" # another generator made it
  fi
  if [ -n "$py" ] && printf '%s\n' "${steps[@]}" | grep -qx models; then
    # The export needs only python and the CPU: it runs while nvcc builds.
    note "models (beside the build)"
    models_t0=$SECONDS
    (cd "$root" && "$py" scripts/make_models.py "$build/models") >"$out/models.log" 2>&1 &
    models_pid=$!
  fi
  note "build (log: $out/build.log)"
  proto=$(onnx_proto)
  cfg=(-S "$root" -B "$build" "${gen[@]}" -DMI_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch"
       -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMI_MODELS_DIR="$build/models")
  if [ -n "${cudnn_lib:-}" ]; then cfg+=(-DMI_CUDNN_LIBRARY="$cudnn_lib" -DMI_CUDNN_INCLUDE_DIR="$cudnn_inc"); fi
  if [ -n "$proto" ]; then cfg+=(-DMI_ONNX_PROTO="$proto"); fi
  if with_deps cmake "${cfg[@]}" >"$out/build.log" 2>&1 &&
     with_deps cmake --build "$build" -j "$jobs" >>"$out/build.log" 2>&1; then
    warnings=$(grep -c 'warning' "$out/build.log")
    record build passed $((SECONDS - t0)) "sm_$arch, $warnings lines with 'warning'"
  else
    record build FAILED $((SECONDS - t0)) "$(grep -m1 -iE 'error' "$out/build.log" | cut -c1-160 | tr '|' '/')"
  fi
fi

# ---- models ------------------------------------------------------------------------------------

if want models; then
  t0=$SECONDS
  note "models"
  if [ -z "$py" ]; then
    record models FAILED 0 "no python3 with torch, torchvision and onnx"
  else
    if [ -n "$models_pid" ]; then
      wait "$models_pid"
      rc=$?
      t0=$models_t0
    else
      (cd "$root" && "$py" scripts/make_models.py "$build/models") >"$out/models.log" 2>&1
      rc=$?
    fi
    cat "$out/models.log" >>"$out/build.log"
    rm -f "$out/models.log"
    if [ $rc -eq 0 ]; then
      record models passed $((SECONDS - t0)) "$(cd "$build/models" && printf '%s ' */)"
    else
      record models FAILED $((SECONDS - t0)) "see build.log: $(tail -1 "$out/build.log" | cut -c1-140 | tr '|' '/')"
    fi
  fi
fi

# ---- the footprint probe ------------------------------------------------------------------------

if want probe; then
  t0=$SECONDS
  note "footprint probe (footprint.md)"
  probe="$build/cuda/mi-footprint-probe"
  if [ ! -x "$probe" ]; then
    record probe FAILED 0 "no $probe: build first"
  else
    {
      echo "# Device memory of one process, step by step"
      echo
      echo "cuda/footprint_probe.c; NVML's per-process figure after each step. MI_CUDA_STACK=keep leaves the"
      echo "driver's stack limit; without it the backend sets what our kernels need when it opens."
      echo
    } >"$out/footprint.md"
    bad=0
    for run in "lenet5 fp32 keep" "lenet5 fp32 auto" "resnet50 fp32 keep" "resnet50 fp32 auto" \
               "resnet50 fp16 auto" "resnet50 fp16 auto :0:0"; do
      read -r m p stackmode wsconf <<<"$run"
      echo >>"$out/footprint.md"
      (
        if [ "$stackmode" = keep ]; then export MI_CUDA_STACK=keep; fi
        if [ -n "${wsconf:-}" ]; then export CUBLAS_WORKSPACE_CONFIG="$wsconf"; fi
        cd "$build" && with_deps timeout 300 "$probe" "$build/models/$m/model.onnx" --precision "$p"
      ) >>"$out/footprint.md" 2>&1 || bad=$((bad + 1))
    done
    if [ "$bad" = 0 ]; then
      record probe passed $((SECONDS - t0)) "6 runs"
    else
      record probe FAILED $((SECONDS - t0)) "$bad of 6 runs failed (footprint.md)"
    fi
  fi
fi

# ---- tests --------------------------------------------------------------------------------------

if want tests; then
  t0=$SECONDS
  note "tests (log: $out/tests.log)"
  # The models are exported above with the python that has torch; the
  # fixture's own setup (Debian's /usr/bin/python3) is left out, and so is
  # docs.quickstart_runs, which installs packages from the distribution's
  # archive: a GPU machine may reach none (CI runs it). The GPU tests run
  # one at a time: some measure the device's free memory.
  : >"$out/tests.log"
  ok=1
  (cd "$build" && with_deps ctest --output-on-failure -E '^(models\.generate|docs\.quickstart_runs)$' -FS models -LE gpu -j "$jobs" \
      --timeout 900) >>"$out/tests.log" 2>&1 || ok=0
  (cd "$build" && with_deps ctest --output-on-failure -E '^models\.generate$' -FS models -L gpu -j 1 \
      --timeout 900) >>"$out/tests.log" 2>&1 || ok=0
  read -r np nf ns <<<"$(count_tests "$out/tests.log")"
  failed=$(grep -E 'Test +#[0-9]+: .*(\*\*\*(Failed|Timeout|Exception)|Not Run)' "$out/tests.log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' | head -40 | tr '\n' ' ')
  skipped=$(grep -E 'Test +#[0-9]+: .*\*\*\*Skipped' "$out/tests.log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' | head -40 | tr '\n' ' ')
  test_detail="$np passed, $nf failed, $ns skipped"$'\n\n'"- failed: ${failed:-none}"$'\n'"- skipped: ${skipped:-none}"
  if [ "$ok" = 1 ] && [ "$nf" = 0 ]; then
    record tests passed $((SECONDS - t0)) "$np passed, $nf failed, $ns skipped"
  else
    record tests FAILED $((SECONDS - t0)) "$np passed, $nf failed, $ns skipped"
  fi
fi

# ---- bench ------------------------------------------------------------------------------------------

if want bench; then
  t0=$SECONDS
  note "bench (bench.md, bench.jsonl)"
  if [ -z "$py" ]; then
    record bench FAILED 0 "no python3 with torch"
  elif with_deps "$py" "$root/bench/gpu_vs_torch.py" --build "$build" --models-dir "$build/models" \
        --out "$out/bench.md" --jsonl "$out/bench.jsonl" --runs "${MI_BENCH_RUNS:-100}" \
        --models "${MI_BENCH_MODELS:-lenet5,mobilenet_v2,resnet50}" --batches "${MI_BENCH_BATCHES:-1,32}" \
        --precisions "${MI_BENCH_PRECISIONS:-fp16,bf16}" 2>"$out/bench.log"; then
    errors=$(grep -c '"error"' "$out/bench.jsonl" 2>/dev/null)
    record bench passed $((SECONDS - t0)) "${errors:-0} configurations with an error"
  else
    record bench FAILED $((SECONDS - t0)) "$(tail -1 "$out/bench.log" 2>/dev/null | cut -c1-140 | tr '|' '/')"
  fi
fi

# ---- compute-sanitizer ------------------------------------------------------------------------------

if want sanitizer; then
  t0=$SECONDS
  note "compute-sanitizer memcheck (log: $out/sanitizer.log)"
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  : >"$out/sanitizer.log"
  if [ ! -x "$san" ]; then
    record sanitizer FAILED 0 "compute-sanitizer not found"
  else
    bad=0
    runs=0
    cut=0
    skipped_runs=0
    # Criterion forks a process per test: --target-processes all follows them.
    # The whole models first: they reach most of the kernels at once.
    filters=(cuda_models/lenet5 cuda_models/mobilenet_v2 cuda_models/resnet50
             cuda_models/mobilenet_v2_cuda_graph cuda_models/run_enqueued_on_the_callers_stream "cuda_ops/*"
             "cuda_ops_half/*" cuda_models/resnet50_fp16_bf16)
    if [ -n "${MI_SANITIZE_FILTER:-}" ]; then
      set -f # Criterion's patterns, not the shell's
      read -r -a filters <<<"$MI_SANITIZE_FILTER"
      set +f
    fi
    for f in "${filters[@]}"; do
      prog="$build/tests/test_cuda_models"
      case "$f" in cuda_ops*) prog="$build/tests/test_cuda_ops" ;; esac
      limit="${MI_SANITIZE_TIMEOUT:-1200}"
      if [ "$(left)" -lt "$limit" ]; then limit=$(left); fi
      if [ "$(left)" -lt 10 ]; then
        skipped_runs=$((skipped_runs + 1))
        echo "### $f: not run (past MI_GPU_DEADLINE)" >>"$out/sanitizer.log"
        continue
      fi
      echo "### $f" >>"$out/sanitizer.log"
      runs=$((runs + 1))
      (cd "$build/tests" && with_deps timeout "$limit" "$san" --tool memcheck --target-processes all --leak-check full \
          --error-exitcode 86 --print-limit 50 "$prog" --filter "$f" -j1 --verbose) >>"$out/sanitizer.log" 2>&1
      rc=$?
      if [ $rc -eq 124 ]; then
        cut=$((cut + 1))
        echo "### $f: cut after $limit s (timeout)" >>"$out/sanitizer.log"
      elif [ $rc -ne 0 ]; then
        bad=$((bad + 1))
        echo "### $f: exit $rc" >>"$out/sanitizer.log"
      fi
    done
    errs=$(grep -E 'ERROR SUMMARY: [1-9]' "$out/sanitizer.log" | head -20)
    summaries=$(grep -c 'ERROR SUMMARY' "$out/sanitizer.log")
    sanitizer_detail="$runs runs, $bad with a non-zero exit, $cut cut by their time limit, $skipped_runs not run (deadline), $summaries 'ERROR SUMMARY' lines"$'\n\n'"${errs:-no errors reported}"
    if [ "$bad" = 0 ] && [ -z "$errs" ] && [ $((cut + skipped_runs)) -gt 0 ]; then
      record sanitizer partial $((SECONDS - t0)) "no memcheck errors in $runs runs; $cut cut by their time limit, $skipped_runs not run"
    elif [ "$bad" = 0 ] && [ -z "$errs" ]; then
      record sanitizer passed $((SECONDS - t0)) "$runs runs, no memcheck errors"
    else
      record sanitizer FAILED $((SECONDS - t0)) "$bad of $runs runs failed; see sanitizer.log"
    fi
  fi
fi

write_summary
note "summary: $summary"
cat "$summary"
exit "$overall"
