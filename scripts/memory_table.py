#!/usr/bin/env python3
"""Prints the memory table of planned models from `mini-infer plan --json` files.

usage: memory_table.py PLAN.json [PLAN.json ...]

Columns: the naive arena (every activation its own region), the planned arena,
the lower bound with and without in-place, the saving (1 - planned / naive)
beside the original design's claim, and the other pools.
"""
import json
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
    for p in paths:
        with open(p) as f:
            j = json.load(f)
        name = os.path.splitext(os.path.basename(p))[0]
        claim = CLAIMS.get(name)
        rows.append([
            name,
            str(j["batch"]),
            mib(j["naive_arena"]),
            mib(j["pools"]["arena"]),
            mib(j["lower_bound"]),
            mib(j["lower_bound_no_inplace"]),
            f"{100 * j['saving_ratio']:.1f}%",
            f"{100 * claim:.0f}%" if claim is not None else "-",
            f"{j['planned_over_bound']:.4f}",
            j["strategy"] + (" (optimal)" if j["proven_optimal"] else ""),
            mib(j["pools"]["weights"]),
            mib(j["pools"]["io"]),
        ])
    head = ["model", "batch", "naive arena", "planned arena", "lower bound", "bound w/o in-place",
            "saving", "original claim", "planned/bound", "strategy", "weights", "inputs/outputs"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
