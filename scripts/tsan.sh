#!/usr/bin/env bash
# ThreadSanitizer job: builds the library and tests/test_stress.c with
# -fsanitize=thread (MI_TSAN) in build-tsan/ and runs the stress cases
# (ctest -L stress): threads x contexts on one shared model (CNNs,
# transformers, a model set on one arena, a batch range), every output
# byte-identical to the single-threaded run. Any TSan report fails the job
# (halt_on_error=1, and the cases' FAIL_REGULAR_EXPRESSION).
#
#   scripts/tsan.sh            both passes: the CPU pool at its default size
#                              (the online CPUs), then MI_CPU_THREADS=4
#   scripts/tsan.sh -- ARGS    extra ctest arguments (e.g. -- -R model_set)
#
# Uses the model zoo in build/models (scripts/test.sh makes it; made here
# when missing). Extra TSan options: TSAN_OPTIONS is appended to ours.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh
mi_install_deps

start=$(date +%s)
build=build-tsan
models="$root/build/models"
ctest_args=()
if [ "${1:-}" = "--" ]; then shift; ctest_args=("$@"); fi

# A compiler whose TSan runtime links and runs here: clang (libclang-rt-14-dev), else gcc.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }\n' >"$probe/p.c"
cc=""
for c in clang gcc; do
  if command -v "$c" >/dev/null && "$c" -fsanitize=thread -g "$probe/p.c" -o "$probe/p" -lpthread 2>/dev/null &&
    "$probe/p" 2>/dev/null; then
    cc=$c
    break
  fi
done
if [ -z "$cc" ]; then
  echo "tsan: FAIL: neither clang nor gcc builds a working -fsanitize=thread program here" >&2
  exit 1
fi

need=(lenet5 mobilenet_v2 bert_tiny_s128 gpt_tiny)
for m in "${need[@]}"; do
  if [ ! -f "$models/$m/model.onnx" ]; then
    echo "tsan: making the model zoo in $models"
    /usr/bin/python3 scripts/make_models.py "$models"
    break
  fi
done

t0=$(date +%s)
cmake -S . -B "$build" -DMI_TSAN=ON -DMI_BENCH=OFF -DMI_CUDA=OFF -DCMAKE_C_COMPILER="$cc" \
  -DMI_MODELS_DIR="$models" >/dev/null
cmake --build "$build" --target test_stress -j "$(nproc)"
t1=$(date +%s)

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
# -FA models: the zoo is there already (above); no models.generate run.
for threads in default 4; do
  if [ "$threads" = default ]; then
    echo "tsan: CPU pool at its default size"
    (unset MI_CPU_THREADS; ctest --test-dir "$build" -L stress -FA models --output-on-failure "${ctest_args[@]}")
  else
    echo "tsan: MI_CPU_THREADS=$threads"
    MI_CPU_THREADS=$threads ctest --test-dir "$build" -L stress -FA models --output-on-failure "${ctest_args[@]}"
  fi
done
t2=$(date +%s)
echo "tsan: PASS: stress cases race-free under ThreadSanitizer ($cc), outputs identical to single-threaded runs;" \
  "build $((t1 - t0))s, runs $((t2 - t1))s, total $((t2 - start))s"
