#!/usr/bin/env bash
# Plans of the bundled models, byte for byte: each variant's `plan --json`,
# less the two lines that depend on the run (the model's path and the
# planning time), hashed and compared with tests/plans/golden.txt. A
# refactoring must leave every plan as it was.
#
#   check.sh MINI_INFER MODELS_DIR GOLDEN            compare
#   check.sh MINI_INFER MODELS_DIR GOLDEN --update   rewrite GOLDEN (say why in the commit)
set -euo pipefail
cli=$1 models=$2 golden=$3 mode=${4:-}

variants=(
  "default|"
  "naive|--strategy naive"
  "greedy-size|--strategy greedy-size"
  "best-fit|--strategy best-fit"
  "greedy-breadth|--strategy greedy-breadth"
  "coloring|--strategy coloring"
  "exact|--strategy exact --node-budget 20000"
  "no-inplace|--no-inplace"
  "no-fuse|--no-fuse"
  "disabled|--disable"
  "batch8|--batch 8"
  "align64|--alignment 64"
  "cpu-workspaces|--device cpu"
)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for m in lenet5 mobilenet_v2 resnet50 resnet50_dynamic; do
  model=$models/$m/model.onnx
  [ -f "$model" ] || { echo "missing $model" >&2; exit 1; }
  for v in "${variants[@]}"; do
    name=${v%%|*} args=${v#*|}
    # --device cpu plans the CPU backend's workspaces, whose size follows its thread count.
    # shellcheck disable=SC2086
    h=$(MI_CPU_THREADS=2 "$cli" plan "$model" --json $args |
        grep -v -e '^  "model": ' -e '^  "plan_seconds": ' | sha256sum | cut -c1-64)
    echo "$m $name $h" >>"$out"
  done
done

if [ "$mode" = "--update" ]; then
  cp "$out" "$golden"
  echo "plans: golden updated ($(wc -l <"$golden") variants)"
  exit 0
fi
if diff -u "$golden" "$out"; then
  echo "plans: PASS ($(wc -l <"$golden") variants unchanged)"
else
  echo "plans: FAIL: the plans above changed (- golden, + now)"
  exit 1
fi
