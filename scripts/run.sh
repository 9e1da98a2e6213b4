#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, export
# the bundled models (LeNet-5, MobileNet-V2, ResNet-50 and the reduced ViT,
# BERT-like and GPT-like transformers; random weights), plan each one, run
# each one on the CPU inside its plan against torch's reference output, and
# print the memory table beside the original claims.
#
#   scripts/run.sh            plans, pictures and JSON land in build/plans/
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh
mi_install_deps
cmake -S . -B build -DMI_MODELS_DIR="$root/build/models" >/dev/null
cmake --build build -j "$(nproc)" --target mini-infer
/usr/bin/python3 scripts/make_models.py build/models
mkdir -p build/plans
for m in lenet5 mobilenet_v2 resnet50; do
  model=build/models/$m/model.onnx
  data=build/models/$m/test_data_set_0
  echo "== $m"
  build/mini-infer plan "$model"
  build/mini-infer plan "$model" --json >"build/plans/$m.json"
  build/mini-infer plan "$model" --json --no-fuse --no-inplace --strategy naive >"build/plans/$m-unfused.json"
  build/mini-infer plan "$model" --svg "build/plans/$m.svg" >/dev/null
  for p in fp16 bf16; do
    build/mini-infer plan "$model" --json --precision $p >"build/plans/$m-$p.json"
    build/mini-infer plan "$model" --json --precision $p --no-fuse --no-inplace --strategy naive >"build/plans/$m-$p-unfused.json"
  done
  build/mini-infer run "$model" --input "$data/input_0.pb" --check "$data/output_0.pb"
  echo
done
for m in vit_tiny bert_tiny_s128 gpt_tiny; do
  model=build/models/$m/model.onnx
  data=build/models/$m/test_data_set_0
  inputs=$(ls "$data"/input_*.pb | sort -V | paste -sd, -)
  echo "== $m"
  build/mini-infer plan "$model"
  for b in 1 8; do
    build/mini-infer plan "$model" --batch $b --json >"build/plans/$m-b$b.json"
    build/mini-infer plan "$model" --batch $b --json --no-fuse --no-inplace --strategy naive >"build/plans/$m-b$b-unfused.json"
  done
  build/mini-infer run "$model" --input "$inputs" --check "$data/output_0.pb"
  echo
done
echo "== memory, fp32 and half precision (activations arena; SVG pictures in build/plans/)"
python3 scripts/memory_table.py build/plans/lenet5.json:build/plans/lenet5-unfused.json \
  build/plans/mobilenet_v2.json:build/plans/mobilenet_v2-unfused.json \
  build/plans/resnet50.json:build/plans/resnet50-unfused.json \
  build/plans/lenet5-fp16.json:build/plans/lenet5-fp16-unfused.json \
  build/plans/lenet5-bf16.json:build/plans/lenet5-bf16-unfused.json \
  build/plans/mobilenet_v2-fp16.json:build/plans/mobilenet_v2-fp16-unfused.json \
  build/plans/mobilenet_v2-bf16.json:build/plans/mobilenet_v2-bf16-unfused.json \
  build/plans/resnet50-fp16.json:build/plans/resnet50-fp16-unfused.json \
  build/plans/resnet50-bf16.json:build/plans/resnet50-bf16-unfused.json \
  build/plans/vit_tiny-b1.json:build/plans/vit_tiny-b1-unfused.json \
  build/plans/vit_tiny-b8.json:build/plans/vit_tiny-b8-unfused.json \
  build/plans/bert_tiny_s128-b1.json:build/plans/bert_tiny_s128-b1-unfused.json \
  build/plans/bert_tiny_s128-b8.json:build/plans/bert_tiny_s128-b8-unfused.json \
  build/plans/gpt_tiny-b1.json:build/plans/gpt_tiny-b1-unfused.json \
  build/plans/gpt_tiny-b8.json:build/plans/gpt_tiny-b8-unfused.json
