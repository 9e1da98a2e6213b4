#!/usr/bin/env python3
"""What the Python layer adds to a run: mini_infer.InferenceSession.run on
LeNet-5 against the C API's mi_context_run as `mini-infer run --bench`
times it (host wall time, inputs and outputs copied in both), in one
process each, median of N runs after a warm-up.

  bench/python_overhead.py --cli build/mini-infer --model build/models/lenet5/model.onnx
"""
import argparse
import re
import statistics
import subprocess
import time

import numpy as np

import mini_infer


def cli_median(cli, model, n):
    out = subprocess.run([cli, "run", model, "--bench", str(n), "--warmup", "200"], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"median ([0-9.]+) ms", out)
    return float(m.group(1)) * 1e3


def python_median(model, n):
    sess = mini_infer.InferenceSession(model)
    feed = {a.name: np.zeros(a.shape, a.numpy_dtype()) for a in sess.get_inputs()}
    for _ in range(200):
        sess.run(None, feed)
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        sess.run(None, feed)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default="build/mini-infer")
    ap.add_argument("--model", default="build/models/lenet5/model.onnx")
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rows = []
    for _ in range(a.repeat):
        c = cli_median(a.cli, a.model, a.runs)
        p = python_median(a.model, a.runs)
        rows.append((c, p))
        print(f"C API {c:8.1f} us   Python {p:8.1f} us   overhead {p - c:6.1f} us", flush=True)
    over = statistics.median(p - c for c, p in rows)
    print(f"median overhead of the Python layer per run: {over:.1f} us ({a.runs} runs x {a.repeat})")


if __name__ == "__main__":
    main()
