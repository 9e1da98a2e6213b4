#!/usr/bin/env python3
"""mini-infer's CPU backend against ONNX Runtime's CPU execution provider: host memory and latency.

    python3 bench/cpu_vs_ort.py --build BUILD [--models-dir DIR] [--models lenet5,mobilenet_v2,resnet50]
                                [--batches 1,8] [--runs 10] [--threads 2] [--out FILE.md] [--jsonl FILE]

Needs a python with onnxruntime (and numpy); the model files come from scripts/make_models.py.
Models with several inputs (the transformers: token ids, masks) run at their exported batch only,
on their test set. Both engines run the same ONNX file (for a batch other than the export's, a copy whose input and
output say that batch: mini-infer's --batch does the same to the graph it loads), the same number
of threads, each configuration in a process of its own:

  - mini-infer: BUILD/mini-infer run MODEL --batch B --bench N (auto plan, MI_CPU_THREADS);
  - ONNX Runtime: this script with --ort-worker (default session options: all graph
    optimisations, its CPU memory arena and memory patterns on; intra-op threads as given,
    one inter-op thread, sequential execution).

Memory is the process's peak resident set (VmHWM, read by the process itself: mini-infer's
`run` prints it), and the same less what that process held before it loaded the model (VmRSS
then: for ONNX Runtime after importing onnxruntime and numpy). The difference is what the model
costs: weights, plans, arenas, scratch, and the file while it is parsed. *steady* is the
resident set after the timed runs (VmRSS), less the same baseline: what the model holds while it
serves.
Latency is the median of N runs after one warm-up, host wall time, inputs and outputs copied
(mini-infer's `run --bench`; session.run for ONNX Runtime). At the export's batch both outputs
are checked against the exported reference (max|d|/max|ref|).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import emit, mib, write_jsonl, proc_status_bytes


def run(cmd, env=None, timeout=1800):
    """Runs cmd; returns (returncode, stdout, stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -9, "", "timed out after %d s" % timeout
    return p.returncode, p.stdout, p.stderr


def ort_worker(args):
    import numpy as np
    import onnxruntime as ort
    base = proc_status_bytes("VmRSS")
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(args.model_file, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    inp = sess.get_inputs()[0]
    rec = {"engine": "onnxruntime", "ort": ort.__version__, "load_ms": load_ms, "baseline_bytes": base}
    if args.input:  # every graph input, in order (a transformer has several: ids, masks)
        feed = {i.name: np.load(p) for i, p in zip(sess.get_inputs(), args.input.split(","))}
    else:
        shape = [args.batch] + [int(d) for d in inp.shape[1:]]
        feed = {inp.name: (np.random.default_rng(0).random(shape, dtype=np.float32) * 2 - 1).astype(np.float32)}
    y = sess.run(None, feed)[0]  # warm-up
    if args.reference:
        ref = np.load(args.reference)
        rec["check_rel"] = float(np.max(np.abs(y - ref)) / max(1e-30, float(np.max(np.abs(ref)))))
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    rec.update({"median_ms": statistics.median(times), "min_ms": min(times), "runs": args.runs,
                "peak_bytes": proc_status_bytes("VmHWM"), "steady_bytes": proc_status_bytes("VmRSS")})
    print(json.dumps(rec), flush=True)
    return 0


def tensor_to_npy(pb_path, npy_path):
    import numpy as np
    from onnx import TensorProto, numpy_helper
    t = TensorProto()
    with open(pb_path, "rb") as f:
        t.ParseFromString(f.read())
    np.save(npy_path, numpy_helper.to_array(t))


def with_batch(model_path, batch, out_path):
    """A copy of the model whose first input and outputs have dim 0 = batch (no value_info)."""
    import onnx
    m = onnx.load(model_path)
    for v in list(m.graph.input[:1]) + list(m.graph.output):
        v.type.tensor_type.shape.dim[0].dim_value = batch
    del m.graph.value_info[:]
    onnx.save(m, out_path)



def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--models-dir", dest="models_dir", default=None)
    ap.add_argument("--models", default="lenet5,mobilenet_v2,resnet50")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--jsonl", default=None)
    ap.add_argument("--ort-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model-file", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--reference", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_worker:
        return ort_worker(args)
    try:
        import onnxruntime
    except ImportError:
        print("cpu_vs_ort.py: this python has no onnxruntime (pip install onnxruntime)", file=sys.stderr)
        return 2
    models_dir = args.models_dir or os.path.join(args.build, "models")
    cli = os.path.join(args.build, "mini-infer")
    env = dict(os.environ, MI_CPU_THREADS=str(args.threads))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            onnx_path = os.path.join(models_dir, model, "model.onnx")
            data = os.path.join(models_dir, model, "test_data_set_0")
            pbs = sorted(f for f in os.listdir(data) if re.match(r"input_[0-9]+\.pb$", f))
            pbs = [os.path.join(data, f) for f in sorted(pbs, key=lambda f: int(f[6:-3]))]
            npys = [os.path.join(tmp, "%s_in%d.npy" % (model, k)) for k in range(len(pbs))]
            npy_ref = os.path.join(tmp, model + "_ref.npy")
            for pb, npy in zip(pbs, npys):
                tensor_to_npy(pb, npy)
            tensor_to_npy(os.path.join(data, "output_0.pb"), npy_ref)
            for batch in [int(b) for b in args.batches.split(",")]:
                exported = batch == 1
                if not exported and len(pbs) > 1:
                    continue  # several inputs (ids, masks): only the exported test set is meaningful
                # mini-infer
                cmd = [cli, "run", onnx_path, "--bench", str(args.runs)]
                if exported:
                    cmd += ["--input", ",".join(pbs), "--check", os.path.join(data, "output_0.pb")]
                else:
                    cmd += ["--batch", str(batch)]
                rc, out, err = run(cmd, env)
                rec = {"engine": "mini-infer", "model": model, "batch": batch, "threads": args.threads}
                mem = re.search(r"host mem +peak ([0-9.]+) (KiB|MiB|GiB) resident, ([0-9.]+) (B|KiB|MiB|GiB) now "
                                r"\(this process; ([0-9.]+) (B|KiB|MiB|GiB)", out)
                if mem:
                    unit = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
                    rec["peak_bytes"] = int(float(mem.group(1)) * unit[mem.group(2)])
                    rec["steady_bytes"] = int(float(mem.group(3)) * unit[mem.group(4)])
                    rec["baseline_bytes"] = int(float(mem.group(5)) * unit[mem.group(6)])
                m = re.search(r"median ([0-9.]+) ms", out)
                if rc or not m:
                    rec["error"] = "exit %d: %s" % (rc, (err or out).strip().splitlines()[-1:] or "")
                else:
                    rec["median_ms"] = float(m.group(1))
                    rec["min_ms"] = float(re.search(r"min ([0-9.]+) ms", out).group(1))
                    pools = re.search(r"pools +weights ([^,]+), arena ([^(]+)\(", out)
                    if pools:
                        rec["pools"] = "weights %s, arena %s" % (pools.group(1), pools.group(2).strip())
                    c = re.search(r"max\|d\|/max\|ref\| = ([0-9.e+-]+)", out)
                    if c:
                        rec["check_rel"] = float(c.group(1))
                results.append(rec)
                print(json.dumps(rec), file=sys.stderr, flush=True)
                # ONNX Runtime
                model_file = onnx_path
                if not exported:
                    model_file = os.path.join(tmp, "%s_b%d.onnx" % (model, batch))
                    with_batch(onnx_path, batch, model_file)
                cmd = [sys.executable, os.path.abspath(__file__), "--ort-worker", "--model-file", model_file,
                       "--batch", str(batch), "--runs", str(args.runs), "--threads", str(args.threads)]
                if exported:
                    cmd += ["--input", ",".join(npys), "--reference", npy_ref]
                rc, out, err = run(cmd)
                rec = {"engine": "onnxruntime", "model": model, "batch": batch, "threads": args.threads}
                line = next((l for l in reversed(out.strip().splitlines()) if l.startswith("{")), None)
                if rc or not line:
                    rec["error"] = "exit %d: %s" % (rc, (err or out).strip().splitlines()[-1:] or "")
                else:
                    rec.update(json.loads(line))
                results.append(rec)
                print(json.dumps(rec), file=sys.stderr, flush=True)
    write_jsonl(args.jsonl, results)
    ortv = next((r.get("ort") for r in results if r.get("ort")), "?")
    lines = ["# mini-infer (CPU backend) vs ONNX Runtime %s (CPU execution provider)" % ortv, "",
             "%d threads each; median of %d runs after one warm-up (host wall time, inputs and outputs "
             "copied); each configuration in its own process. *peak* is the process's peak resident "
             "set (VmHWM) and *steady* its resident set after the runs (VmRSS), each less what the same "
             "process held before it loaded the model (mini-infer's CLI, or the worker after importing "
             "onnxruntime and numpy): the model's own cost, the file's parse included in the peak."
             % (args.threads, args.runs), "",
             "| model | batch | engine | median ms | min ms | peak MiB | steady MiB | peak ratio | steady ratio | check | notes |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|"]
    by = {(r["model"], r["batch"], r["engine"]): r for r in results}
    def own(r, key):
        return r[key] - r["baseline_bytes"] if r.get(key) and r.get("baseline_bytes") is not None else None

    for r in results:
        if "error" in r:
            lines.append("| %s | %d | %s | — | — | — | — | — | — | — | %s |" % (
                r["model"], r["batch"], r["engine"], str(r["error"]).replace("|", "/")[:160]))
            continue
        ratios = ["—", "—"]
        other = by.get((r["model"], r["batch"], "onnxruntime"))
        if r["engine"] == "mini-infer" and other and "error" not in other:
            for i, key in enumerate(("peak_bytes", "steady_bytes")):
                if own(r, key) and own(other, key):
                    ratios[i] = "%.2f" % (own(r, key) / own(other, key))
        check = "%.1e" % r["check_rel"] if "check_rel" in r else "—"
        note = r.get("pools", "") if r["engine"] == "mini-infer" else "load %.0f ms" % r.get("load_ms", 0)
        lines.append("| %s | %d | %s | %.2f | %.2f | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["batch"], r["engine"], r["median_ms"], r["min_ms"], mib(own(r, "peak_bytes")),
            mib(own(r, "steady_bytes")), ratios[0], ratios[1], check, note))
    text = "\n".join(lines) + "\n"
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
