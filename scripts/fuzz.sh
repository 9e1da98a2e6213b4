#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# while, seeded from the committed corpus, the generated models and ONNX's
# node tests.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    default 60 s; onnx csv tensor set
#
# New crashes land in build-fuzz/crashes/<target>/; copy each into
# tests/corpus/<target>/ with a test that pins the fix. Prints executions
# and coverage per target.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh
mi_install_deps
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx csv tensor set)

cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMI_FUZZ=ON -DMI_TESTS=OFF -DMI_BENCH=OFF \
  -DMI_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# The CLI too, so that clang's warnings (errors here, as in every build) cover all of src/.
cmake --build build-fuzz -j "$(nproc)" --target fuzz_onnx fuzz_csv fuzz_tensor fuzz_set mini-infer >/dev/null

node=/usr/share/libonnx-testdata/data/node
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus" "build-fuzz/crashes/$t"
  cp -n tests/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  case $t in
    onnx)
      [ -f build/models/lenet5/model.onnx ] && cp -n build/models/lenet5/model.onnx "$corpus/lenet5.onnx"
      if [ -d $node ]; then
        for d in $node/test_{conv,relu,add,gemm,maxpool,averagepool,concat,reshape,slice,pad,transpose,softmax,batchnorm,split,gather}*; do
          [ -f "$d/model.onnx" ] && cp -n "$d/model.onnx" "$corpus/$(basename "$d").onnx"
        done
      fi ;;
    tensor)
      if [ -d $node ]; then
        for d in $node/test_{conv,relu,gather,slice,cast}*; do
          [ -f "$d/test_data_set_0/input_0.pb" ] && cp -n "$d/test_data_set_0/input_0.pb" "$corpus/$(basename "$d").pb"
        done
      fi ;;
  esac
  echo "== fuzz_$t for ${secs}s ($(ls "$corpus" | wc -l) seeds)"
  log=build-fuzz/fuzz_$t.log
  set +e
  ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/tests/fuzz/fuzz_"$t" "$corpus" -max_total_time="$secs" \
    -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -artifact_prefix="build-fuzz/crashes/$t/" \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$log" | tail -1 || true
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t FAILED (exit $rc): see $log and build-fuzz/crashes/$t/"
    grep -E 'ERROR|SUMMARY' "$log" | head -5
    exit 1
  fi
done
echo "fuzzing: no crashes, hangs or leaks"
