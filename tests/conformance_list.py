#!/usr/bin/python3
"""Lists ONNX node-test directories whose models use only operators mini-infer supports.

    /usr/bin/python3 tests/conformance_list.py NODE_DIR GRAPH_H OUT

NODE_DIR is ONNX's node tests (Debian's libonnx-testdata:
/usr/share/libonnx-testdata/data/node); GRAPH_H is include/mini_infer/graph.h,
whose MI_OP_LIST names the supported operators (the one list, read here so it
is never copied). Writes OUT: one line per selected directory, sorted. A
model that the onnx module cannot read, or that has a node outside the
default domain, is left out.
"""
import os
import re
import sys

import onnx


def supported_ops(graph_h):
    with open(graph_h) as f:
        text = f.read()
    block = text[text.index("#define MI_OP_LIST"):]
    block = block[:block.index("\n\n")]
    return set(re.findall(r'X\(MI_OP_\w+,\s*"(\w+)"\)', block))


def model_ops(path):
    m = onnx.load(path, load_external_data=False)
    ops = set()
    for n in m.graph.node:
        if n.domain not in ("", "ai.onnx"):
            return None
        ops.add(n.op_type)
    return ops


def main():
    node_dir, graph_h, out = sys.argv[1:4]
    ops = supported_ops(graph_h)
    keep = []
    for d in sorted(os.listdir(node_dir)):
        model = os.path.join(node_dir, d, "model.onnx")
        if not d.startswith("test_") or not os.path.isfile(model):
            continue
        try:
            used = model_ops(model)
        except Exception:  # unreadable by this onnx version: not ours to judge
            continue
        if used and used <= ops:
            keep.append(d)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(d + "\n" for d in keep))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
