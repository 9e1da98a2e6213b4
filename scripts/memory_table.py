#!/usr/bin/env python3
"""Prints the memory table of planned models from `mini-infer plan --json` files.

usage: memory_table.py PLAN.json[:UNFUSED.json] ...

PLAN.json is the plan mini-infer runs (fused, in-place); UNFUSED.json, when
given, the same model planned with --no-fuse --no-inplace --strategy naive:
the graph as exported with no reuse at all, the baseline the original design's
claims compare with. Columns: naive arenas, the planned arena, the lower bound
with and without in-place, the saving (1 - planned / naive) beside the claim.

A plan named MODEL-fp16.json or MODEL-bf16.json (`plan --precision fp16`) is
a row of that precision; its saving is against the fp32 baseline of MODEL
(the row of MODEL.json, given before it), so it shows what half precision
adds to planning.
"""
import json
import re
import os
import sys

CLAIMS = {"lenet5": 0.31, "mobilenet_v2": 0.69, "resnet50": 0.75}


def mib(n):
    return f"{n / 1048576:.2f} MiB" if n >= 1048576 else f"{n / 1024:.1f} KiB"


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    rows = []
    fp32_base = {}
    for arg in paths:
        p, _, unfused = arg.partition(":")
        with open(p) as f:
            j = json.load(f)
        base = j["naive_arena"]
        bound0 = j["lower_bound_no_inplace"]
        if unfused:
            with open(unfused) as f:
                u = json.load(f)
            base = u["naive_arena"]
            bound0 = u["lower_bound"]
        name = os.path.splitext(os.path.basename(p))[0]
        name = re.sub(r"-b[0-9]+$", "", name)  # MODEL-bN.json: a batch of MODEL (the JSON says which)
        precision = "fp32"
        for half in ("fp16", "bf16"):
            if name.endswith("-" + half):
                name, precision = name[: -len(half) - 1], half
        if precision == "fp32":
            fp32_base[name] = base
        else:
            base = fp32_base.get(name, base)
        claim = CLAIMS.get(name) if precision == "fp32" else None
        rows.append([
            name,
            precision,
            str(j["batch"]),
            mib(base),
            mib(j["naive_arena"]),
            mib(j["pools"]["arena"]),
            mib(j["lower_bound"]),
            mib(bound0),
            f"{100 * (1 - j['pools']['arena'] / base):.1f}%" if base else "-",
            f"{100 * claim:.0f}%" if claim is not None else "-",
            f"{j['planned_over_bound']:.4f}",
            j["strategy"] + (" (optimal)" if j["proven_optimal"] else ""),
            mib(j["pools"]["weights"]),
            mib(j["pools"]["io"]),
        ])
    head = ["model", "precision", "batch", "naive arena (fp32, as exported)", "naive arena (fused)", "planned arena",
            "lower bound", "bound (no fusion, no in-place)", "saving vs fp32 as exported", "original claim",
            "planned/bound", "strategy", "weights", "inputs/outputs"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
