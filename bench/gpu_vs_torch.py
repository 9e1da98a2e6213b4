#!/usr/bin/env python3
"""mini-infer against PyTorch on the same GPU, the same weights, the same inputs' shapes.

    python3 bench/gpu_vs_torch.py --build BUILD --models MODELS_DIR --out bench.md [--runs 100]
                                  [--models lenet5,mobilenet_v2,resnet50] [--batches 1,32]
                                  [--precisions fp32,tf32,fp16,bf16] [--jsonl results.jsonl]

For every model, batch and precision it runs, each in a process of its own:
  - mini-infer eagerly and with CUDA Graphs (BUILD/bench/bench_gpu, one JSON line each),
  - PyTorch eager and PyTorch with CUDA Graphs (this script with --torch-worker),
and writes a markdown table of median and minimum latency (CUDA events, after warm-up) and
device memory: NVML's figure for the whole process (CUDA context, libraries, memory) for both
engines, plus mini-infer's planned pools and torch.cuda.max_memory_allocated for PyTorch's tensors.

The PyTorch models are re-created exactly as scripts/make_models.py exports them (same seeds,
same BatchNorm calibration), and each worker checks its batch-1 output against the exported
test data, so both engines run the same weights. fp32 means TF32 off in both (cuDNN and cuBLAS);
tf32 allows it in both. fp16 and bf16: mini-infer's `--precision` (weights converted at load,
channels last between convolutions, fp32 accumulation) against PyTorch's `.half()` / `.bfloat16()`
with `channels_last` memory format (model and input). PyTorch runs with cudnn.benchmark off, as
mini-infer picks algorithms by cuDNN's heuristics. For mini-infer's eager rows the table also gives
the host time per launched node (the enqueue of one run divided by the nodes it launches).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench_common import mib, proc_status_bytes, write_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"lenet5": (1, 32, 32), "mobilenet_v2": (3, 224, 224), "resnet50": (3, 224, 224)}


def nvml_process_bytes():
    """This process's device memory per NVML, or None (no NVML, no permission, a PID namespace)."""
    try:
        import pynvml
        import torch
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        try:
            handle = pynvml.nvmlDeviceGetHandleByPciBusId(
                "%08x:%02x:%02x.0" % (props.pci_domain_id, props.pci_bus_id, props.pci_device_id))
        except Exception:
            handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        for getter in ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses"):
            fn = getattr(pynvml, getter, None)
            if fn is None:
                continue
            for p in fn(handle):
                if p.pid == os.getpid() and p.usedGpuMemory is not None:
                    return int(p.usedGpuMemory)
            return None
    except Exception:
        return None
    finally:
        pynvml.nvmlShutdown()
    return None


def torch_worker(args):
    """One PyTorch configuration; prints one JSON line."""
    import numpy as np
    import torch
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import make_models
    from onnx import numpy_helper, TensorProto

    half = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(args.precision)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("high" if args.tf32 else "highest")
    torch.set_num_threads(2)  # as make_models.py, so the BatchNorm calibration is the same
    model, shape = make_models.build(args.model)
    make_models.calibrate_batchnorm(model, (8,) + shape[1:])
    model.eval()
    dev = torch.device("cuda")
    model = model.to(dev)
    if half is not None:
        model = model.to(dtype=half, memory_format=torch.channels_last)

    def prepare(t):
        return t if half is None else t.to(dtype=half).contiguous(memory_format=torch.channels_last)
    out = {"engine": "pytorch", "model": args.model, "batch": args.batch, "graph": int(args.graph),
           "tf32": int(args.tf32), "torch": torch.__version__, "cudnn_version": torch.backends.cudnn.version(),
           "device": torch.cuda.get_device_name(dev), "precision": args.precision or "fp32"}
    with torch.inference_mode():
        # Same weights as the ONNX export: batch 1 against the exported test data.
        data = os.path.join(args.models_dir, args.model, "test_data_set_0")
        try:
            tin, tout = TensorProto(), TensorProto()
            with open(os.path.join(data, "input_0.pb"), "rb") as f:
                tin.ParseFromString(f.read())
            with open(os.path.join(data, "output_0.pb"), "rb") as f:
                tout.ParseFromString(f.read())
            x1 = prepare(torch.from_numpy(numpy_helper.to_array(tin).copy()).to(dev))
            want = numpy_helper.to_array(tout)
            got = model(x1).float().cpu().numpy()
            out["weights_check_max_abs_diff"] = float(np.max(np.abs(got - want)))
            out["weights_check_rel"] = float(np.max(np.abs(got - want)) / max(1e-30, float(np.max(np.abs(want)))))
        except OSError as e:
            out["weights_check"] = "no test data: %s" % e
        gen = torch.Generator().manual_seed(1)
        x = prepare((torch.rand((args.batch,) + SHAPES[args.model], generator=gen) * 2 - 1).to(dev))
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        if args.graph:
            static_in = x.clone()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    model(static_in)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                model(static_in)

            def step():
                g.replay()
        else:
            def step():
                model(x)
        for _ in range(args.warmup):
            step()
        torch.cuda.synchronize()
        times = []
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(args.runs):
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    times.sort()
    out.update({"runs": args.runs, "timer": "cuda-events", "median_ms": statistics.median(times),
                "min_ms": times[0], "max_ms": times[-1],
                "max_memory_allocated": torch.cuda.max_memory_allocated(dev),
                "max_memory_reserved": torch.cuda.max_memory_reserved(dev),
                "process_bytes": nvml_process_bytes(),
                "host_rss_bytes": proc_status_bytes("VmRSS"), "host_peak_bytes": proc_status_bytes("VmHWM")})
    print(json.dumps(out), flush=True)
    return 0


def run_json(cmd, timeout):
    """Runs cmd, returns the last JSON line it printed (or an error record)."""
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %d s" % timeout}
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                rec = json.loads(line)
                rec["wall_s"] = round(time.time() - t0, 1)
                if p.returncode and "error" not in rec:
                    rec["error"] = "exit %d" % p.returncode
                return rec
            except json.JSONDecodeError:
                break
    tail = (p.stderr or p.stdout or "").strip().splitlines()[-3:]
    return {"error": "exit %d: %s" % (p.returncode, " | ".join(tail))}



def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models-dir", "--models_dir", dest="models_dir", default=None)
    ap.add_argument("--out", default=None, help="markdown table (default: stdout)")
    ap.add_argument("--jsonl", default=None, help="every raw result, one JSON line each")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--models", default="lenet5,mobilenet_v2,resnet50")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--precisions", default="fp32,tf32,fp16,bf16")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per configuration")
    # internal: one PyTorch configuration in this process
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--graph", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tf32", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--precision", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.models_dir is None:
        args.models_dir = os.path.join(args.build, "models")
    if args.torch_worker:
        return torch_worker(args)

    bench = os.path.join(args.build, "bench", "bench_gpu")
    if not os.access(bench, os.X_OK):
        print("no %s: build mini-infer first" % bench, file=sys.stderr)
        return 2
    results = []
    for model in args.models.split(","):
        onnx_path = os.path.join(args.models_dir, model, "model.onnx")
        for batch in [int(b) for b in args.batches.split(",")]:
            for prec in args.precisions.split(","):
                tf32 = prec == "tf32"
                half = prec in ("fp16", "bf16")
                for graph in (0, 1):
                    cmd = [bench, onnx_path, "--batch", str(batch), "--runs", str(args.runs),
                           "--warmup", str(args.warmup)] + (["--graph"] if graph else []) + \
                          (["--tf32"] if tf32 else []) + (["--precision", prec] if half else [])
                    rec = run_json(cmd, args.timeout)
                    rec.update({"engine": "mini-infer", "model": model, "batch": batch, "graph": graph,
                                "precision": prec})
                    results.append(rec)
                    print(json.dumps(rec), file=sys.stderr, flush=True)
                    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--model", model,
                           "--batch", str(batch), "--runs", str(args.runs), "--warmup", str(args.warmup),
                           "--models-dir", args.models_dir] + (["--graph"] if graph else []) + \
                          (["--tf32"] if tf32 else []) + (["--precision", prec] if half else [])
                    rec = run_json(cmd, args.timeout)
                    rec.update({"engine": "pytorch", "model": model, "batch": batch, "graph": graph,
                                "precision": prec})
                    results.append(rec)
                    print(json.dumps(rec), file=sys.stderr, flush=True)
    write_jsonl(args.jsonl, results)

    dev = next((r.get("device") for r in results if r.get("device")), "?")
    tv = next((r.get("torch") for r in results if r.get("torch")), "?")
    mi_dnn = next((r.get("cudnn_version") for r in results if r["engine"] == "mini-infer" and "cudnn_version" in r), "?")
    pt_dnn = next((r.get("cudnn_version") for r in results if r["engine"] == "pytorch" and "cudnn_version" in r), "?")
    lines = ["# mini-infer vs PyTorch on %s" % dev, "",
             "PyTorch %s (cuDNN %s), mini-infer with cuDNN %s; %d timed runs after %d warm-up runs, "
             "median and minimum by CUDA events; each configuration in its own process." %
             (tv, pt_dnn, mi_dnn, args.runs, args.warmup), "",
             "Device memory: *process* is NVML's figure for the whole process (CUDA context, libraries and "
             "memory); *tensors* is mini-infer's pools (weights + arena + inputs/outputs, one cudaMalloc each) "
             "or PyTorch's torch.cuda.max_memory_allocated (its caching allocator reserves more). "
             "*host* is the process's resident host memory after the timed runs (VmRSS; the libraries "
             "loaded count, and mini-infer keeps no host copy of the weights).", "",
             "| model | batch | precision | engine | CUDA Graphs | median ms | min ms | process MiB | tensors MiB "
             "| host MiB | notes |",
             "|---|---:|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if "error" in r or "skipped" in r:
            lines.append("| %s | %d | %s | %s | %s | — | — | — | — | — | %s |" % (
                r["model"], r["batch"], r["precision"], r["engine"], "yes" if r["graph"] else "no",
                (r.get("error") or r.get("skipped", "")).replace("|", "/")[:160]))
            continue
        tensors = r.get("pools_bytes") if r["engine"] == "mini-infer" else r.get("max_memory_allocated")
        note = ""
        if r["engine"] == "pytorch" and "weights_check_rel" in r:
            note = "same weights: batch-1 output within %.1e of the export" % r["weights_check_rel"]
        if r["engine"] == "mini-infer":
            note = "arena %s MiB (naive %s)" % (mib(r.get("arena_bytes")), mib(r.get("naive_arena_bytes")))
            if "enqueue_median_ms" in r:
                note += "; host enqueue %.3f ms" % r["enqueue_median_ms"]
                if not r["graph"] and r.get("nodes_launched"):
                    note += " (%.1f us per node, %d nodes)" % (r["enqueue_us_per_node"], r["nodes_launched"])
        lines.append("| %s | %d | %s | %s | %s | %.3f | %.3f | %s | %s | %s | %s |" % (
            r["model"], r["batch"], r["precision"], r["engine"], "yes" if r["graph"] else "no",
            r["median_ms"], r["min_ms"], mib(r.get("process_bytes")), mib(tensors),
            mib(r.get("host_rss_bytes")), note))
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print("wrote %s" % args.out, file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
