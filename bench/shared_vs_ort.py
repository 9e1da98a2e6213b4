#!/usr/bin/env python3
"""Model sets and batch ranges on one shared arena: mini-infer's memory against each model on its
own, and against ONNX Runtime holding the same models in one process.

    python3 bench/shared_vs_ort.py --build BUILD [--models-dir DIR[:DIR...]] [--set LABEL=SPEC ...]
                                   [--runs 20] [--repeat 1] [--threads 2] [--out FILE.md] [--jsonl FILE]

A SPEC is models joined by '+' (a name NAME resolves to DIR/NAME/model.onnx in the first
--models-dir that has it; a path ending in .onnx is taken as is), or one model with a batch range
'NAME@1,8,32'; a ':N' tail sets that set's timed runs (default --runs). Without --set it measures
the default sets below. Python with onnxruntime and onnx (and numpy) is needed for the ONNX
Runtime side. Every measurement runs in a process of its own:

  (a) mini-infer shared: `BUILD/mini-infer run M1 M2 ... --bench N` (or `run M --batches ...`):
      all models on one backend, one activations arena sized for the largest, weights and
      inputs/outputs per model. Parsed: the `shared` line (arena for all, the sum of the arenas
      each model and batch size would have alone, weights, inputs/outputs), the `switching` lines
      and the process's peak (VmHWM) and steady (VmRSS after the runs) resident set. The exact
      pools come from `BUILD/mini-infer plan M1 M2 ... --device cpu --json` ("pools"), and the
      script checks the shared arena is the largest member's (each member planned alone).
  (b) mini-infer separate: the sum over models (and batch sizes) of arena+weights+io from
      `mini-infer plan M --device cpu [--batch B] --json` (what each would hold alone), and the
      sum of the resident sets of one `mini-infer run M [--batch B] --bench 1` process each.
  (c) ONNX Runtime: this script with --ort-worker, one process holding one InferenceSession per
      model (CPUExecutionProvider, default session options, --threads intra-op threads, one
      inter-op thread, sequential); a batch range is one session whose input batch is symbolic
      (a copy of the file with dim 0 named, where the export fixed it), run at every size. Each
      model and size runs once, then the same timing as mini-infer's switching lines. Also one
      ORT process per model (and size), summed, for the "separate" comparison.

Memory: *own* figures are the process's VmHWM (peak) or VmRSS after the runs (steady) less its
VmRSS before the first model was loaded (mini-infer's CLI: about 2 MiB; the ORT worker after
importing onnxruntime and numpy); *abs* are the whole process's. Host memory only: device memory
on a GPU is not measured here (scripts/gpu-check.sh is where that would go).

Switching: mini-infer prints one `switching` line per (model, batch size) pair, that pair's
median ms of N runs back to back (the pair run N times before the next: "same") and cycling
through every pair for N rounds ("cycled"), and a summary line with the range and the geometric
mean over the pairs of cycled/same. The ORT worker times its sessions the same way and computes
the same per-pair medians and geometric mean. With --repeat, each pair's medians are the median
over the processes; the table's geometric mean is taken over those, and each process's printed
one is listed beside it. --tables-from FILE re-renders the tables from a --jsonl file.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import emit, mib, proc_status_bytes

DEFAULT_SETS = [
    "CNNs=lenet5+mobilenet_v2+resnet50",
    "torchvision=resnet18+squeezenet1_0+shufflenet_v2_x1_0+efficientnet_b0+densenet121",
    "transformers=vit_tiny+gpt_tiny+bert_tiny_s128",
    "resnet50 batches=resnet50@1,8:10",
    "bert_tiny batches=bert_tiny_s128@1,8,32",
]

UNIT = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}


def run(cmd, env=None, timeout=1800):
    """Runs cmd; returns (returncode, stdout, stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -9, "", "timed out after %d s" % timeout
    return p.returncode, p.stdout, p.stderr


def size(num, unit):
    return int(round(float(num) * UNIT[unit]))


SZ = r"([0-9.]+) (B|KiB|MiB|GiB)"


def last_line(out, err):
    return ((err or "") + (out or "")).strip().splitlines()[-1:] or [""]


# ---- ONNX Runtime worker ------------------------------------------------------------------------

def ort_feed(sess, batch, np):
    """Inputs at this batch: floats uniform in [-1, 1) (seed 0), integers zero."""
    rng = np.random.default_rng(0)
    feed = {}
    for i in sess.get_inputs():
        shape = [batch] + [d if isinstance(d, int) else 1 for d in i.shape[1:]]
        if "int" in i.type:  # as mini-infer's run: integer inputs are zeros
            dt = np.int64 if "int64" in i.type else np.int32
            feed[i.name] = np.zeros(shape, dtype=dt)
        else:
            feed[i.name] = (rng.random(shape, dtype=np.float32) * 2 - 1).astype(np.float32)
    return feed


def pair_medians(fn_pairs, n, cycle):
    """Each fn's median ms of n timed calls, each fn n times in turn or all cycled n rounds, as
    mini-infer's switching lines."""
    ms = [[] for _ in fn_pairs]
    for _ in range(n if cycle else 1):
        for k, fn in enumerate(fn_pairs):
            for _ in range(1 if cycle else n):
                t = time.perf_counter()
                fn()
                ms[k].append((time.perf_counter() - t) * 1e3)
    return [statistics.median(m) for m in ms]


def geomean_ratio(cycled, same):
    """(lowest, highest, geometric mean) of cycled[k] / same[k], as mini-infer's summary line."""
    rs = [c / s if s > 0 else 1.0 for c, s in zip(cycled, same)]
    if not rs:
        return None, None, None
    return min(rs), max(rs), math.exp(sum(math.log(r) for r in rs) / len(rs))


def ort_worker(args):
    import numpy as np
    import onnxruntime as ort
    base = proc_status_bytes("VmRSS")
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    files = args.model_file.split("+")
    batches = [[int(b) for b in s.split(",")] for s in args.ort_batches.split("+")]
    t0 = time.perf_counter()
    sessions = [ort.InferenceSession(f, so, providers=["CPUExecutionProvider"]) for f in files]
    load_ms = (time.perf_counter() - t0) * 1e3
    after_load = proc_status_bytes("VmRSS")
    pairs, first_ms = [], []
    for sess, bs in zip(sessions, batches):
        for b in bs:
            feed = ort_feed(sess, b, np)
            t = time.perf_counter()
            sess.run(None, feed)
            first_ms.append((time.perf_counter() - t) * 1e3)
            pairs.append(lambda s=sess, f=feed: s.run(None, f))
    after_first = {"peak_first_bytes": proc_status_bytes("VmHWM"), "steady_first_bytes": proc_status_bytes("VmRSS")}
    rec = {"engine": "onnxruntime", "ort": ort.__version__, "load_ms": load_ms, "baseline_bytes": base,
           "after_load_bytes": after_load, "first_ms": first_ms}
    rec.update(after_first)
    if args.runs > 0:  # the first runs above were the warm-up
        rec["same_each_ms"] = pair_medians(pairs, args.runs, 0)
        rec["cycled_each_ms"] = pair_medians(pairs, args.runs, 1)
        rec["ratio_lo"], rec["ratio_hi"], rec["geomean"] = geomean_ratio(rec["cycled_each_ms"], rec["same_each_ms"])
    rec.update({"runs": args.runs, "peak_bytes": proc_status_bytes("VmHWM"), "steady_bytes": proc_status_bytes("VmRSS")})
    print(json.dumps(rec), flush=True)
    return 0


def symbolic_batch(model_path, out_path):
    """A copy of the model whose inputs and outputs have a named dim 0 (no value_info); the
    path itself when every input's dim 0 is already named."""
    import onnx
    m = onnx.load(model_path)
    inits = {t.name for t in m.graph.initializer}
    ins = [v for v in m.graph.input if v.name not in inits]
    if all(v.type.tensor_type.shape.dim[0].dim_param for v in ins):
        return model_path
    for v in ins + list(m.graph.output):
        d = v.type.tensor_type.shape.dim[0]
        d.dim_param = "batch"
    del m.graph.value_info[:]
    onnx.save(m, out_path)
    return out_path


# ---- mini-infer ---------------------------------------------------------------------------------

def parse_host_mem(out, rec):
    mem = re.search(r"host mem +peak " + SZ + r" resident, " + SZ + r" now \(this process; " + SZ, out)
    if mem:
        g = mem.groups()
        rec["peak_bytes"], rec["steady_bytes"], rec["baseline_bytes"] = (
            size(g[0], g[1]), size(g[2], g[3]), size(g[4], g[5]))


def mi_shared(cli, env, paths, batches, runs):
    cmd = [cli, "run"] + paths + ["--bench", str(runs)]
    if batches:
        cmd += ["--batches", ",".join(map(str, batches))]
    rc, out, err = run(cmd, env)
    rec = {"engine": "mini-infer", "mode": "shared", "command": " ".join(cmd)}
    if rc:
        rec["error"] = "exit %d: %s" % (rc, last_line(out, err)[0])
        return rec
    s = re.search(r"shared +arena " + SZ + r" for all \(" + SZ + r" if each model and batch size had its own\), "
                  r"weights " + SZ + r", inputs/outputs " + SZ, out)
    if s:
        g = s.groups()
        rec["arena_printed"], rec["separate_arenas_printed"], rec["weights_printed"], rec["io_printed"] = (
            size(g[0], g[1]), size(g[2], g[3]), size(g[4], g[5]), size(g[6], g[7]))
    sw = re.findall(r"^switching +(.+) at batch ([0-9]+): median ([0-9.]+) ms back to back, ([0-9.]+) ms cycling",
                    out, re.M)
    if sw:
        rec["pairs"] = [[p, int(b)] for p, b, _, _ in sw]
        rec["same_each_ms"] = [float(x) for _, _, x, _ in sw]
        rec["cycled_each_ms"] = [float(x) for _, _, _, x in sw]
    g = re.search(r"^switching +cycling / back to back: ([0-9.]+)-([0-9.]+)x, geometric mean ([0-9.]+)x", out, re.M)
    if g:
        rec["ratio_lo"], rec["ratio_hi"], rec["geomean"] = (float(x) for x in g.groups())
    rec["first_ms"] = [float(x) for x in re.findall(r"^run +.* at batch [0-9]+: ([0-9.]+) ms", out, re.M)]
    parse_host_mem(out, rec)
    return rec


def mi_plan(cli, paths, batches=None, batch=None):
    cmd = [cli, "plan"] + paths + ["--device", "cpu", "--json"]
    if batches:
        cmd += ["--batches", ",".join(map(str, batches))]
    if batch:
        cmd += ["--batch", str(batch)]
    rc, out, err = run(cmd)
    if rc:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), rc, last_line(out, err)[0]))
    return json.loads(out)


def mi_alone(cli, env, path, batch):
    cmd = [cli, "run", path, "--bench", "1"] + (["--batch", str(batch)] if batch else [])
    rc, out, err = run(cmd, env)
    rec = {}
    if rc:
        rec["error"] = "exit %d: %s" % (rc, last_line(out, err)[0])
    parse_host_mem(out, rec)
    return rec


def ort_proc(files, batches, runs, threads, timeout=3600):
    cmd = [sys.executable, os.path.abspath(__file__), "--ort-worker", "--model-file", "+".join(files),
           "--ort-batches", "+".join(",".join(map(str, b)) for b in batches), "--runs", str(runs),
           "--threads", str(threads)]
    rc, out, err = run(cmd, timeout=timeout)
    line = next((l for l in reversed(out.strip().splitlines()) if l.startswith("{")), None)
    if rc or not line:
        return {"error": "exit %d: %s" % (rc, last_line(out, err)[0])}
    return json.loads(line)


def own(r, key):
    if r is None or r.get(key) is None or r.get("baseline_bytes") is None:
        return None
    return r[key] - r["baseline_bytes"]


def ratio(a, b, fmt="%.2f"):
    return fmt % (a / b) if a is not None and b else "—"


def parse_set(spec, runs_default):
    label, _, body = spec.partition("=")
    if not body:
        raise SystemExit("--set %r: want LABEL=SPEC" % spec)
    runs = runs_default
    m = re.match(r"^(.*):([0-9]+)$", body)
    if m:
        body, runs = m.group(1), int(m.group(2))
    batches = None
    if "@" in body:
        body, _, bl = body.partition("@")
        batches = [int(b) for b in bl.split(",")]
    models = body.split("+")
    if batches and len(models) != 1:
        raise SystemExit("--set %r: a batch range takes one model" % spec)
    return {"label": label.strip(), "models": models, "batches": batches, "runs": runs}


def resolve(name, dirs):
    if name.endswith(".onnx"):
        return name
    for d in dirs:
        p = os.path.join(d, name, "model.onnx")
        if os.path.exists(p):
            return p
    raise SystemExit("no %s/model.onnx under %s" % (name, ":".join(dirs)))


def measure_set(s, args, cli, env, dirs, tmp):
    paths = [resolve(m, dirs) for m in s["models"]]
    rng = s["batches"]
    pairs = [(p, b) for p in paths for b in (rng or [None])]
    rec = {"set": s["label"], "models": s["models"], "batches": rng, "runs": s["runs"], "threads": args.threads}
    t0 = time.time()
    # (a) shared, --repeat processes; per-pair switching medians: median over the processes, and
    # each process's printed geometric mean kept (memory: the first process)
    shared = [mi_shared(cli, env, paths, rng, s["runs"]) for _ in range(args.repeat)]
    ok = [r for r in shared if "error" not in r]
    rec["mi_shared"] = ok[0] if ok else shared[0]
    if len(ok) > 1:
        for k in ("same_each_ms", "cycled_each_ms"):
            vals = [r[k] for r in ok if k in r]
            if len(vals) == len(ok):
                rec["mi_shared"][k + "_all"] = vals
                rec["mi_shared"][k] = [statistics.median(v) for v in zip(*vals)]
        gs = [r["geomean"] for r in ok if "geomean" in r]
        if gs:
            rec["mi_shared"]["geomean_all"] = gs
            rec["mi_shared"]["geomean"] = statistics.median(gs)
        los = [r["ratio_lo"] for r in ok if "ratio_lo" in r]
        his = [r["ratio_hi"] for r in ok if "ratio_hi" in r]
        if los and his:
            rec["mi_shared"]["ratio_lo"], rec["mi_shared"]["ratio_hi"] = min(los), max(his)
    # exact pools of the set, and of every member (and size) alone
    plan_set = mi_plan(cli, paths, batches=rng if rng and len(rng) > 1 else None)
    rec["plan_set_pools"] = plan_set["pools"]
    alone = []
    for p, b in pairs:
        alone.append(mi_plan(cli, [p], batch=b)["pools"])
    rec["plan_alone_pools"] = alone
    rec["largest_member_arena"] = max(a["arena"] for a in alone)
    rec["separate_arenas"] = sum(a["arena"] for a in alone)
    rec["separate_total"] = sum(a["arena"] + a["weights"] + a["io"] for a in alone)
    ps = plan_set["pools"]
    rec["shared_total"] = ps["arena"] + ps["weights"] + ps["io"]
    notes = []
    if ps["arena"] != rec["largest_member_arena"]:
        notes.append("shared arena %d B is not the largest member's %d B" % (ps["arena"], rec["largest_member_arena"]))
    sh = rec["mi_shared"]
    if "arena_printed" in sh:
        for k_pr, exact in (("arena_printed", ps["arena"]), ("separate_arenas_printed", rec["separate_arenas"]),
                            ("weights_printed", ps["weights"]), ("io_printed", ps["io"])):
            if abs(sh[k_pr] - exact) > max(0.006 * exact, 1024):
                notes.append("run's %s %d B differs from plan's %d B" % (k_pr[:-8], sh[k_pr], exact))
    # (b) one mini-infer process per model and size
    procs = [mi_alone(cli, env, p, b) for p, b in pairs]
    rec["mi_separate_procs"] = procs
    # (c) ONNX Runtime: one process with all, then one per model and size
    ort_files = []
    for i, p in enumerate(paths):
        ort_files.append(symbolic_batch(p, os.path.join(tmp, "%s_%d_sym.onnx" % (re.sub(r"\W", "_", s["label"]), i)))
                         if rng else p)
    bl = [rng or [1] for _ in paths]
    if not args.no_ort:
        rec["ort_shared"] = ort_proc(ort_files, bl, s["runs"], args.threads)
        rec["ort_separate_procs"] = [ort_proc([f], [[b or 1]], 0, args.threads)
                                     for f in ort_files for b in (rng or [None])]
    rec["notes"] = notes
    rec["seconds"] = time.time() - t0
    return rec


def sum_own(recs, key):
    vals = [own(r, key) for r in recs]
    return None if not vals or any(v is None for v in vals) else sum(vals)


def describe(r):
    if r["batches"]:
        return "%s @ %s" % (r["models"][0], ",".join(map(str, r["batches"])))
    return " + ".join(r["models"])


def tables(results):
    L = ["### Planned pools (mini-infer, `plan --device cpu --json`, exact)", "",
         "| set | models | shared arena MiB | largest alone MiB | Σ arenas alone MiB | arena saving | weights MiB "
         "| io MiB | shared total MiB | Σ alone total MiB | total saving |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ps = r["plan_set_pools"]
        L.append("| %s | %s | %s | %s | %s | %s× | %s | %s | %s | %s | %s× |" % (
            r["set"], describe(r), mib(ps["arena"]), mib(r["largest_member_arena"]), mib(r["separate_arenas"]),
            ratio(r["separate_arenas"], ps["arena"]), mib(ps["weights"]), mib(ps["io"]), mib(r["shared_total"]),
            mib(r["separate_total"]), ratio(r["separate_total"], r["shared_total"])))
    L += ["", "### Host resident memory (MiB; *own* = less the process's RSS before loading)", "",
          "| set | mini-infer 1 process peak / steady | mini-infer 1 per model Σ peak / steady "
          "| ORT 1 process peak / steady | ORT 1 per model Σ peak / steady | steady ours/ORT (1 process) "
          "| abs steady ours / ORT |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        sh, o = r["mi_shared"], r.get("ort_shared") or {}
        mp = r["mi_separate_procs"]
        op = r.get("ort_separate_procs") or []
        def pair(a, b):
            return "%s / %s" % (mib(a), mib(b))
        L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["set"], pair(own(sh, "peak_bytes"), own(sh, "steady_bytes")),
            pair(sum_own(mp, "peak_bytes"), sum_own(mp, "steady_bytes")),
            pair(own(o, "peak_bytes"), own(o, "steady_bytes")) if "error" not in o else "error",
            pair(sum_own(op, "peak_bytes"), sum_own(op, "steady_bytes")) if op else "—",
            ratio(own(sh, "steady_bytes"), own(o, "steady_bytes")),
            pair(sh.get("steady_bytes"), o.get("steady_bytes"))))
    L += ["", "### Switching (cycled/same per (model, batch size) pair: same = the pair's median of N runs "
          "back to back, cycled = its median over N rounds through every pair; geometric mean over the pairs "
          "of the per-pair table below, lowest–highest pair in brackets; in square brackets the geometric mean "
          "each mini-infer process printed)", "",
          "| set | pairs | runs | mini-infer geo mean (range) | ORT geo mean (range) |",
          "|---|---:|---:|---:|---:|"]
    f2 = lambda v: "%.2f" % v if v is not None else "—"
    for r in results:
        sh, o = r["mi_shared"], r.get("ort_shared") or {}
        def cell(x):
            lo, hi, gm = geomean_ratio(x.get("cycled_each_ms") or [], x.get("same_each_ms") or [])
            if gm is None:
                return "—"
            c = "%s× (%s–%s)" % (f2(gm), f2(lo), f2(hi))
            if len(x.get("geomean_all") or []) > 1:
                c += " [%s]" % ", ".join(f2(v) for v in x["geomean_all"])
            return c
        L.append("| %s | %d | %d | %s | %s |" % (
            r["set"], len(sh.get("same_each_ms") or []), r["runs"], cell(sh), cell(o)))
    L += ["", "### Per pair (median ms; mini-infer: median over the processes)", "",
          "| set | model @ batch | mini-infer same | mini-infer cycled | cycled/same | ORT same | ORT cycled "
          "| cycled/same | same ours/ORT |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    f3 = lambda v: "%.3f" % v if v is not None else "—"
    for r in results:
        sh, o = r["mi_shared"], r.get("ort_shared") or {}
        names = [(m, b) for m in r["models"] for b in (r["batches"] or [1])]
        ms, mc = sh.get("same_each_ms") or [], sh.get("cycled_each_ms") or []
        os_, oc = o.get("same_each_ms") or [], o.get("cycled_each_ms") or []
        at = lambda v, k: v[k] if k < len(v) else None
        for k, (m, b) in enumerate(names):
            L.append("| %s | %s @ %d | %s | %s | %s | %s | %s | %s | %s |" % (
                r["set"], m, b, f3(at(ms, k)), f3(at(mc, k)), ratio(at(mc, k), at(ms, k)),
                f3(at(os_, k)), f3(at(oc, k)), ratio(at(oc, k), at(os_, k)), ratio(at(ms, k), at(os_, k))))
    notes = [(r["set"], n) for r in results for n in r["notes"]]
    errs = [(r["set"], k, x["error"]) for r in results for k in ("mi_shared", "ort_shared")
            for x in [r.get(k) or {}] if "error" in x]
    errs += [(r["set"], k, x["error"]) for r in results for k in ("mi_separate_procs", "ort_separate_procs")
             for x in r.get(k) or [] if "error" in x]
    if notes or errs:
        L += [""] + ["- %s: %s" % n for n in notes] + ["- %s %s: %s" % e for e in errs]
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--models-dir", dest="models_dir", default=None,
                    help="colon-separated folders of NAME/model.onnx (default BUILD/models)")
    ap.add_argument("--set", action="append", default=None, help="LABEL=M1+M2[:RUNS] or LABEL=M@1,8[:RUNS]")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1,
                    help="mini-infer shared processes per set (switching: per-pair medians and geometric mean, median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--jsonl", default=None, help="append one JSON line per set")
    ap.add_argument("--tables-from", dest="tables_from", default=None,
                    help="measure nothing: print (and --out) the tables of a --jsonl file written before")
    ap.add_argument("--ort-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model-file", help=argparse.SUPPRESS)
    ap.add_argument("--ort-batches", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_worker:
        return ort_worker(args)
    if args.tables_from:
        with open(args.tables_from) as f:
            text = tables([json.loads(line) for line in f if line.strip()])
        emit(text, args.out)
        return 0
    if not args.no_ort:
        try:
            import onnxruntime  # noqa: F401
            import onnx  # noqa: F401
        except ImportError:
            print("shared_vs_ort.py: this python lacks onnxruntime or onnx (pip install onnxruntime), "
                  "or pass --no-ort", file=sys.stderr)
            return 2
    dirs = (args.models_dir or os.path.join(args.build, "models")).split(":")
    cli = os.path.join(args.build, "mini-infer")
    env = dict(os.environ, MI_CPU_THREADS=str(args.threads))
    sets = [parse_set(s, args.runs) for s in (args.set or DEFAULT_SETS)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in sets:
            rec = measure_set(s, args, cli, env, dirs, tmp)
            results.append(rec)
            print(json.dumps(rec), file=sys.stderr, flush=True)
            if args.jsonl:
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps(rec) + "\n")
    text = tables(results)
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
