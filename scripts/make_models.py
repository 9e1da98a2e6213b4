#!/usr/bin/python3
"""Builds mini-infer's model zoo: small CNNs exported to ONNX with random weights.

    /usr/bin/python3 scripts/make_models.py OUTDIR

Writes OUTDIR/<model>/model.onnx and OUTDIR/<model>/test_data_set_0/{input_0,output_0}.pb
(ONNX TensorProto files, the layout of ONNX's own model tests) for lenet5,
mobilenet_v2, resnet50 and resnet50_dynamic (batch axis dynamic, test set at
batch 4). Nothing is downloaded: weights come from fixed seeds. A model whose
files all exist is skipped, so the script is cheap to run again.

Random weights with default BatchNorm statistics (mean 0, var 1) make deep
networks blow up or vanish (outputs of 1e12 or 1e-9), which makes a reference
comparison meaningless. So the BatchNorm running statistics are first measured
from a few train-mode passes of random input (momentum None: cumulative
average), then the model is put in eval mode and exported.
"""
import inspect
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
import onnx
from onnx import numpy_helper

OPSET = 13


class LeNet5(nn.Module):
    """The classic LeNet-5 on a 1x1x32x32 input."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def calibrate_batchnorm(model, shape, passes=4, seed=1):
    """Sets every BatchNorm's running statistics from train-mode passes."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the passes
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.randn(*shape, generator=gen))


def export_kwargs():
    kw = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False  # newer torch: keep the TorchScript exporter
    return kw


def save_tensor(path, array, name):
    proto = numpy_helper.from_array(np.ascontiguousarray(array), name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(proto.SerializeToString())
    os.replace(tmp, path)


def build(name):
    torch.manual_seed(0)
    if name == "lenet5":
        return LeNet5(), (1, 1, 32, 32)
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None), (1, 3, 224, 224)
    if name in ("resnet50", "resnet50_dynamic"):
        return torchvision.models.resnet50(weights=None), (1, 3, 224, 224)
    raise ValueError(name)


def make(outdir, name):
    mdir = os.path.join(outdir, name)
    ddir = os.path.join(mdir, "test_data_set_0")
    model_path = os.path.join(mdir, "model.onnx")
    in_path = os.path.join(ddir, "input_0.pb")
    out_path = os.path.join(ddir, "output_0.pb")
    if all(os.path.exists(p) for p in (model_path, in_path, out_path)):
        print(f"{name}: exists, skipped", flush=True)
        return
    os.makedirs(ddir, exist_ok=True)
    t0 = time.time()
    model, shape = build(name)
    calibrate_batchnorm(model, (8,) + shape[1:])
    model.eval()

    dynamic = name.endswith("_dynamic")
    test_shape = ((4,) + shape[1:]) if dynamic else shape
    x = torch.randn(*test_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = model(x)

    kw = export_kwargs()
    if dynamic:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    tmp = model_path + ".tmp"
    torch.onnx.export(
        model, torch.randn(*shape), tmp, opset_version=OPSET,
        input_names=["input"], output_names=["output"],
        training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True, **kw)
    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, model_path)
    save_tensor(in_path, x.numpy().astype(np.float32), "input")
    save_tensor(out_path, y.numpy().astype(np.float32), "output")
    ops = {}
    for n in onnx.load(model_path).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(f"{name}: wrote {model_path} ({os.path.getsize(model_path)} bytes, "
          f"{sum(ops.values())} nodes: {ops}), input {list(x.shape)}, "
          f"output {list(y.shape)} |y|max {float(y.abs().max()):.4g}, "
          f"{time.time() - t0:.1f} s", flush=True)


def main():
    if len(sys.argv) != 2:
        print("usage: make_models.py OUTDIR", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name in ("lenet5", "mobilenet_v2", "resnet50", "resnet50_dynamic"):
        make(outdir, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
