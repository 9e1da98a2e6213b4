#!/usr/bin/env python3
"""The "Plans" rows of bench/results/transformers.md, measured.

For each model folder (MODEL/model.onnx, as scripts/make_models.py writes
them) and each batch, runs `mini-infer plan --json` in fp32 and fp16 and
prints one markdown row: nodes exported (Constant nodes included), nodes
loaded, naive arena, planned arena, lower bound, weights, fp16 weights and
arena, and the wall clock of load + plan (median of --repeat runs, fp32
then fp16). Exits 1 when a plan is above its lower bound.

  bench/transformer_plans.py --cli build/mini-infer --batches 1,8 DIR/vit_b16 DIR/bert_base_s128
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def size(b):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            return f"{b / scale:.2f} {unit}"
    return f"{b} B"


def exported_nodes(path):
    try:
        import onnx
    except ImportError:
        return "?"
    return str(len(onnx.load(path, load_external_data=False).graph.node))


def plan(cli, path, batch, precision, repeat):
    cmd = [cli, "plan", path, "--batch", str(batch), "--precision", precision, "--json"]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: {r.stderr.strip()}")
        out = json.loads(r.stdout)
    return out, statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model folders")
    ap.add_argument("--cli", default="build/mini-infer")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print("| model | batch | nodes exported | nodes loaded | naive arena | planned arena | lower bound | weights "
          "| fp16: weights, arena | load + plan |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    above = 0
    for folder in a.models:
        path = os.path.join(folder, "model.onnx")
        name = os.path.basename(os.path.normpath(folder))
        exported = exported_nodes(path)
        for batch in (int(b) for b in a.batches.split(",")):
            p32, t32 = plan(a.cli, path, batch, "fp32", a.repeat)
            p16, t16 = plan(a.cli, path, batch, "fp16", a.repeat)
            for p in (p32, p16):
                if p["pools"]["arena"] > p["lower_bound"]:
                    above += 1
                    print(f"{name} batch {batch}: arena {p['pools']['arena']} above its bound {p['lower_bound']}",
                          file=sys.stderr)
            print(f"| {name} | {batch} | {exported} | {len(p32['nodes'])} | {size(p32['naive_arena'])} "
                  f"| {size(p32['pools']['arena'])} | {size(p32['lower_bound'])} | {size(p32['pools']['weights'])} "
                  f"| {size(p16['pools']['weights'])}, {size(p16['pools']['arena'])} | {t32:.2f} s, {t16:.2f} s |",
                  flush=True)
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main())
