#!/usr/bin/env python3
"""The layers of src/ and which way their dependencies run (docs/design.md).

Two views, both must agree with LAYERS below:
  includes  every #include "x/..." of a file names its own layer or one it
            may use; a public header (mini_infer/*.h) counts as the layer
            that implements it;
  symbols   every symbol an object file of the library leaves undefined is
            defined by an object of its own layer or of one it may use
            (nm over the objects the build made), so no call runs upward;
            inside the layers listed in ACYCLIC, the files form no cycle.

  check.py SOURCE_DIR OBJECT_DIR [OBJECT_DIR ...]
OBJECT_DIR: where CMake put the library's objects (.../src/<layer>/*.o).
"""
import os
import re
import subprocess
import sys

# layer -> the layers it may use (its own is always allowed).
LAYERS = {
    "common": set(),
    "planner": {"common"},
    "graph": {"common", "kernels"},  # kernels/: header-only element rules (half conversions)
    "kernels": set(),
    "onnx": {"common", "graph"},
    "memplan": {"common", "graph", "planner"},
    "backend": {"common", "graph"},  # the backend interface, include/mini_infer/backend.h
    "backend_cpu": {"common", "graph", "kernels", "backend"},
    "runtime": {"common", "graph", "onnx", "planner", "memplan", "backend", "backend_cpu"},
    "cli": {"common", "graph", "onnx", "planner", "memplan", "backend", "runtime"},
    # The CUDA plugin: no symbol of the core (it gets a function table),
    # but the same types and inline helpers.
    "cuda": {"common", "graph", "kernels", "backend", "runtime"},
}
# Public headers, by the layer that implements them.
PUBLIC = {
    "common.h": "common", "planner.h": "planner", "graph.h": "graph", "tensor_io.h": "onnx",
    "memplan.h": "memplan", "report.h": "memplan", "backend.h": "backend",
    "runtime.h": "runtime", "cuda.h": "runtime",
}
# Layers whose files must not call each other in a circle either.
ACYCLIC = {"common", "graph", "onnx", "memplan", "runtime"}
# Generated code (build tree) and who may include it.
GENERATED = {"proto": {"onnx"}}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of_path(rel):
    parts = rel.split("/")
    if parts[0] == "cuda":
        return "cuda"
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    return None


def check_includes(src, errors):
    for top in ("src", "cuda"):
        for dirpath, _, files in os.walk(os.path.join(src, top)):
            for f in files:
                if not f.endswith((".c", ".h", ".cu", ".cuh")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, src)
                layer = layer_of_path(rel)
                if layer is None:
                    errors.append(f"{rel}: not inside a layer folder (src/<layer>/)")
                    continue
                if layer not in LAYERS:
                    errors.append(f"{rel}: folder '{layer}' is not a known layer (tests/layers/check.py)")
                    continue
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                for inc in INCLUDE.findall(text):
                    head, _, rest = inc.partition("/")
                    if not rest:  # same folder
                        if not os.path.exists(os.path.join(dirpath, inc)):
                            errors.append(f"{rel}: includes \"{inc}\", which is not in its own folder")
                        continue
                    if head == "mini_infer":
                        target = PUBLIC.get(rest)
                        if target is None:
                            errors.append(f"{rel}: includes unknown public header {inc}")
                            continue
                    elif head in GENERATED:
                        if layer not in GENERATED[head]:
                            errors.append(f"{rel}: includes generated {inc}; only {sorted(GENERATED[head])} may")
                        continue
                    else:
                        target = head
                    if target != layer and target not in LAYERS[layer]:
                        errors.append(f"{rel}: layer '{layer}' includes \"{inc}\" of layer '{target}', "
                                      f"which it may not use (may: {sorted(LAYERS[layer]) or 'none'})")


def nm(path):
    out = subprocess.run(["nm", "-g", path], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] not in ("U", "w", "v"):
            defined.add(parts[2])
    return defined, undefined


def objects(objdirs):
    found = []
    for d in objdirs:
        for dirpath, _, files in os.walk(d):
            for f in files:
                if f.endswith(".o"):
                    path = os.path.join(dirpath, f)
                    rel = os.path.relpath(path, d).replace(os.sep, "/")
                    m = re.search(r"(?:^|/)src/([^/]+)/(.+)\.o$", rel)
                    if m:
                        found.append((m.group(1), m.group(2), path))
    return found


def cycles(nodes, edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check_symbols(objdirs, errors):
    objs = objects(objdirs)
    if not objs:
        errors.append(f"no object files under {objdirs}: build the library first")
        return 0
    owner = {}
    info = []
    for layer, name, path in objs:
        defined, undefined = nm(path)
        info.append((layer, name, undefined))
        for s in defined:
            owner[s] = (layer, name)
    file_edges = {}
    for layer, name, undefined in info:
        if layer not in LAYERS:
            errors.append(f"object {layer}/{name}: folder '{layer}' is not a known layer")
            continue
        for s in sorted(undefined):
            if s not in owner:
                continue  # libc, protobuf-c, ...
            tl, tn = owner[s]
            if tl != layer and tl not in LAYERS[layer]:
                errors.append(f"{layer}/{name} calls {s} of layer '{tl}' ({tl}/{tn}), which it may not use")
            if tl == layer and tn != name:
                file_edges.setdefault((layer, name), set()).add((tl, tn))
    for layer in sorted(ACYCLIC):
        nodes = {(l, n) for l, n, _ in objs if l == layer}
        edges = {k: v for k, v in file_edges.items() if k[0] == layer}
        for comp in cycles(nodes, edges):
            errors.append(f"layer '{layer}': the files {', '.join(n for _, n in comp)} call each other in a cycle")
    return len(objs)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    src, objdirs = sys.argv[1], sys.argv[2:]
    errors = []
    check_includes(src, errors)
    n = check_symbols(objdirs, errors)
    for e in errors:
        print("layers: " + e)
    if errors:
        print(f"layers: FAIL ({len(errors)} problems)")
        return 1
    print(f"layers: PASS ({n} objects, includes and symbols one way)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
