#!/usr/bin/env bash
# CLI checks: exit codes, messages and outputs of mini-infer, one case per
# invocation (the case name is the first argument).
#   cli_test.sh CASE MINI_INFER DATA_DIR MODELS_DIR WORK_DIR
set -u
case_name=$1 bin=$2 data=$3 models=$4 work=$5
mkdir -p "$work"
fail() { echo "FAIL: $case_name: $*"; exit 1; }
# expect RC PATTERN -- ARGS...: runs mini-infer ARGS, checks the exit code and
# that stdout+stderr match the extended regex PATTERN.
expect() {
  local rc=$1 pat=$2
  shift 3
  local out
  out=$("$bin" "$@" 2>&1)
  local got=$?
  [ "$got" -eq "$rc" ] || fail "exit $got, expected $rc: mini-infer $*"$'\n'"$out"
  echo "$out" | grep -Eq -- "$pat" || fail "no match for /$pat/ in: mini-infer $*"$'\n'"$out"
  echo "$out"
}

case $case_name in
  help)
    expect 0 'commands:' -- --help
    expect 0 'plan +Load an ONNX model' -- help
    expect 0 'usage: mini-infer solve FILE.csv' -- solve --help
    expect 2 "unknown command 'frobnicate'" -- frobnicate
    expect 0 '^mini-infer [0-9]+\.[0-9]+\.[0-9]+' -- version ;;
  solve_ok)
    expect 0 'pool size +3072 bytes' -- solve "$data/small.csv"
    expect 0 'proven optimal' -- solve "$data/small.csv" --strategy greedy-size
    expect 0 'pool size +3072 bytes' -- solve "$data/small_named.csv"
    # MiniMalloc's README example: ids that are names, its plan to the byte.
    expect 0 'capacity +12 bytes: fits' -- solve "$data/named_ids.csv" --capacity 12 --alignment 1 --strategy exact --out "$work/named.csv"
    [ "$(tr '\n' ' ' <"$work/named.csv")" = 'id,lower,upper,size,offset b1,0,3,4,8 b2,3,9,4,8 b3,0,9,4,4 b4,9,21,4,4 b5,0,21,4,0 ' ] ||
      fail "named plan: $(cat "$work/named.csv")"
    expect 0 'plan written' -- solve "$data/small.csv" --out "$work/plan.csv"
    head -1 "$work/plan.csv" | grep -qx 'id,lower,upper,size,offset' || fail "plan header"
    [ "$(wc -l <"$work/plan.csv")" -eq 4 ] || fail "plan lines" ;;
  solve_capacity)
    expect 0 'capacity +3072 bytes: fits' -- solve "$data/small.csv" --capacity 3072
    expect 1 'does not fit' -- solve "$data/small.csv" --capacity 2K --strategy exact
    expect 0 'capacity +3072 bytes: fits' -- solve "$data/small.csv" --capacity 3072 --strategy exact --threads 3
    expect 1 'does not fit' -- solve "$data/small.csv" --capacity 2K --strategy exact --threads 3 ;;
  solve_bad)
    expect 2 'small.csv.*: cannot open|No such file' -- solve "$data/missing.csv"
    expect 2 "bad_field.csv:3: field 'size' is not an integer" -- solve "$data/bad_field.csv"
    expect 2 'bad_interval.csv:3: upper must be greater than lower' -- solve "$data/bad_interval.csv"
    expect 2 'dup.csv:3: duplicate id 1 \(first on line 2\)' -- solve "$data/dup.csv"
    expect 2 'dup_names.csv:4: duplicate id b1 \(first on line 2\)' -- solve "$data/dup_names.csv"
    expect 2 'bad_header.csv:1: expected the header `id,lower,upper,size` \(or `buffer,start,end,size`\)' -- solve "$data/bad_header.csv"
    expect 2 'alignment 3: expected a power of two' -- solve "$data/small.csv" --alignment 3
    expect 2 "unknown strategy 'fast'.*greedy-size" -- solve "$data/small.csv" --strategy fast
    expect 2 "threads: '0' is not an integer from 1 to 256" -- solve "$data/small.csv" --threads 0
    expect 2 "unknown option '--colour'; valid options: --strategy" -- solve "$data/small.csv" --colour ;;
  plan_lenet)
    expect 0 'saving +[0-9.]+% vs naive' -- plan "$models/lenet5/model.onnx"
    expect 0 '"lower_bound": [0-9]+' -- plan "$models/lenet5/model.onnx" --json
    expect 0 'planned' -- plan "$models/lenet5/model.onnx" --svg "$work/lenet5.svg" --csv "$work/lenet5.csv"
    grep -q '<svg' "$work/lenet5.svg" || fail "svg"
    expect 0 'pool size' -- solve "$work/lenet5.csv"
    # --device cpu plans the CPU backend's im2col workspaces too.
    expect 0 '"workspace_size": [1-9]' -- plan "$models/lenet5/model.onnx" --device cpu --json
    expect 2 'valid: none, cpu' -- plan "$models/lenet5/model.onnx" --device tpu ;;
  plan_bad)
    expect 2 'cannot open|No such file' -- plan "$work/nothing.onnx"
    printf 'garbage' >"$work/garbage.onnx"
    expect 2 'garbage.onnx' -- plan "$work/garbage.onnx"
    expect 2 "--batch: '0' is not an integer from 1" -- plan "$models/lenet5/model.onnx" --batch 0 ;;
  run_lenet)
    expect 0 'top-1 agrees 1/1: PASS' -- run "$models/lenet5/model.onnx" --input "$models/lenet5/test_data_set_0/input_0.pb" \
      --check "$models/lenet5/test_data_set_0/output_0.pb" --poison --output "$work/out.pb"
    expect 0 'top-1 agrees 1/1: PASS' -- run "$models/lenet5/model.onnx" --input "$models/lenet5/test_data_set_0/input_0.pb" \
      --check "$work/out.pb" --tolerance 0 --strategy naive
    expect 1 'FAIL' -- run "$models/lenet5/model.onnx" --check "$models/lenet5/test_data_set_0/output_0.pb"
    expect 0 'latency +min [0-9.]+ ms, median [0-9.]+ ms over 3 runs' -- run "$models/lenet5/model.onnx" --bench 3
    expect 2 "device 'tpu'" -- run "$models/lenet5/model.onnx" --device tpu ;;
  plan_set)
    # several models and a batch range: the shared pools, and each plan as plan --json prints it
    lenet=$models/lenet5/model.onnx gpt=$models/gpt_tiny/model.onnx
    expect 0 'shared +arena .* \(the largest; ' -- plan "$lenet" "$gpt"
    "$bin" plan "$lenet" "$gpt" --json >"$work/set.json" || fail "plan --json of a set"
    "$bin" plan "$gpt" --batch 1..3 --json >"$work/range.json" || fail "plan --json of a range"
    "$bin" plan "$lenet" "$gpt" --batches 1,4 --json >"$work/both.json" || fail "plan --json of ranges"
    "$bin" plan "$gpt" --json >"$work/one.json" || fail "plan --json"
    /usr/bin/python3 - "$work" <<'PY' || fail "the JSON of sets and ranges"
import json, sys
w = sys.argv[1]
s, r, b, one = (json.load(open(f"{w}/{n}.json")) for n in ("set", "range", "both", "one"))
assert s["pools"]["arena"] == max(m["pools"]["arena"] for m in s["models"]), "set arena is the largest"
assert s["pools"]["weights"] == sum(m["pools"]["weights"] for m in s["models"]), "set weights are the sum"
assert [x["batch"] for x in r["batches"]] == [1, 2, 3]
assert r["pools"]["arena"] == max(x["pools"]["arena"] for x in r["batches"])
assert r["pools"]["weights"] < sum(x["pools"]["weights"] for x in r["batches"]), "a range's weights held once"
assert [[x["batch"] for x in m["batches"]] for m in b["models"]] == [[1, 4], [1, 4]]
assert "pools" not in one or "batches" not in one and one["pools"]["arena"] == s["models"][1]["pools"]["arena"]
PY
    expect 2 'exclude each other' -- plan "$gpt" --batch 2 --batches 1,2
    expect 2 'at most 16' -- plan "$gpt" --batch 1..40
    expect 2 'draw one plan' -- plan "$lenet" "$gpt" --svg "$work/x.svg" ;;
  run_set)
    lenet=$models/lenet5/model.onnx gpt=$models/gpt_tiny/model.onnx
    expect 0 'switching +cycling / back to back: [0-9.]+-[0-9.]+x, geometric mean' -- run "$lenet" "$gpt" --bench 3
    expect 0 'shared +arena .* if each model and batch size had its own' -- run "$gpt" --batches 1,2
    expect 2 'take one model at one batch size' -- run "$lenet" "$gpt" --check "$work/none.pb" ;;
  *) fail "unknown case" ;;
esac
echo "PASS: $case_name"
