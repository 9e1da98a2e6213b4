#!/usr/bin/python3
"""Builds mini-infer's model zoo: small CNNs and transformers exported to ONNX with random weights.

    /usr/bin/python3 scripts/make_models.py OUTDIR               # the default set (below)
    /usr/bin/python3 scripts/make_models.py OUTDIR NAME [NAME...] # only the named models

Writes OUTDIR/<model>/model.onnx and OUTDIR/<model>/test_data_set_0/{input_<k>,output_0}.pb
(ONNX TensorProto files, the layout of ONNX's own model tests: one input_<k>.pb per
graph input, in graph-input order, each named like its graph input). Nothing is
downloaded: weights come from fixed seeds. A model whose files all exist is
skipped, so the script is cheap to run again.

The default set: lenet5, mobilenet_v2, resnet50 and resnet50_dynamic (batch axis
dynamic, test set at batch 4), all opset 13, and the reduced transformers
vit_tiny, bert_tiny_s128 and gpt_tiny (opset 17, a few seconds each). The
full-size transformers vit_b16, bert_base_s128, bert_base_s512 and gpt2_small
(hundreds of MB each) are only made when named. Transformer graphs (dim 0 of
every input and of "output" is a dynamic batch, the test set at batch 1;
node counts include Constant nodes; mini-infer folds each to 58-74 nodes):

  vit_tiny        input float [B,3,32,32]; 270 nodes (torchvision VisionTransformer,
                  image 32, patch 8, 2 layers, 2 heads, d 64, mlp 128, 10 classes)
  vit_b16         input float [B,3,224,224] (torchvision vit_b_16)
  bert_tiny_s128  input float [B,128,64], mask float [B,128]; 286 nodes
                  (nn.TransformerEncoder, post-LN, GELU (Erf), 2 layers, d 64, 4 heads)
  bert_base_s128  input float [B,128,768], mask float [B,128] (12 layers, 12 heads)
  bert_base_s512  input float [B,512,768], mask float [B,512]
  gpt_tiny        input_ids int64 [B,32]; 213 nodes (GPT-2-like pre-LN causal decoder,
                  no KV cache, GELU tanh, 2 layers, d 64, 4 heads, vocab 512, logits out)
  gpt2_small      input_ids int64 [B,128] (12 layers, d 768, 12 heads, vocab 50257)

Ops (opset 17): MatMul Gemm Add Mul Div Erf Tanh Softmax(axis -1)
LayerNormalization(axis -1) Reshape Transpose Split Slice Concat Gather Conv
Shape ConstantOfShape Equal Where Expand Constant, and with the dynamic batch
Cast Unsqueeze Range too. All carry int64 shape arithmetic (Shape/Gather/
Unsqueeze/Concat feeding Reshape, Slice and Expand; ConstantOfShape/Equal/Where)
that folds to constants once the batch is known; gpt_*'s causal mask is a
constant bool tensor into Where(mask, -inf, scores).

BERT's "mask" is an additive key padding mask (0 = attend, -10000 = padding;
the test set pads the last 16 tokens), the input is already the embeddings.
GPT's input_ids are random in [0, vocab), its output the logits [1,S,vocab].

Random weights with default BatchNorm statistics (mean 0, var 1) make deep
networks blow up or vanish (outputs of 1e12 or 1e-9), which makes a reference
comparison meaningless. So the BatchNorm running statistics are first measured
from a few train-mode passes of random input (momentum None: cumulative
average), then the model is put in eval mode and exported. Transformers have no
BatchNorm; instead their parameters that PyTorch initialises to constants
(LayerNorm weight/bias, attention biases, ViT's zero classifier head and class
token) are set randomly too, so that swapped or ignored parameters show.

Transformers are run and exported with autograd enabled: under torch.no_grad()
PyTorch 1.13 takes its fused attention fast path (which has no ONNX export),
and nn.TransformerEncoder given a padding mask would return a nested tensor
(truncated output); enable_nested_tensor=False as well.
"""
import inspect
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
import onnx
from onnx import numpy_helper

OPSET = 13  # the CNNs
OPSET_TRANSFORMER = 17  # LayerNormalization is an ONNX op from 17 on


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


class BertEncoder(nn.Module):
    """A BERT-like post-LN encoder on embeddings: forward(input [B,S,d], mask [B,S]).

    mask is an additive key padding mask (0 = attend, -10000 = padding)."""

    def __init__(self, layers, d, heads):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=4 * d, batch_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x, mask):
        return self.encoder(x, src_key_padding_mask=mask)


class CausalSelfAttention(nn.Module):
    """GPT-2's attention: one qkv projection, a causal (lower triangular) mask."""

    def __init__(self, d, heads, positions):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(d // heads)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        tril = torch.tril(torch.ones(positions, positions, dtype=torch.bool))
        self.register_buffer("causal", tril.view(1, 1, positions, positions), persistent=False)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q = q.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        k = k.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        v = v.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = att.masked_fill(~self.causal[:, :, :s, :s], float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, s, d)
        return self.c_proj(y)


class GPTBlock(nn.Module):
    def __init__(self, d, heads, positions):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads, positions)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A GPT-2-like causal decoder without KV cache: forward(input_ids [B,S]) -> logits [B,S,vocab]."""

    def __init__(self, layers, d, heads, vocab, positions):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.h = nn.ModuleList([GPTBlock(d, heads, positions) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, input_ids):
        pos = torch.arange(0, input_ids.size(1), dtype=torch.long, device=input_ids.device)
        x = self.wte(input_ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


# name: (layers, d_model, heads, sequence length) / (layers, d, heads, vocab, positions, S)
BERT_CONFIGS = {"bert_tiny_s128": (2, 64, 4, 128), "bert_base_s128": (12, 768, 12, 128),
                "bert_base_s512": (12, 768, 12, 512)}
GPT_CONFIGS = {"gpt_tiny": (2, 64, 4, 512, 128, 32), "gpt2_small": (12, 768, 12, 50257, 1024, 128)}
BERT_PADDING = 16  # the test mask pads the last 16 tokens
CNNS = ("lenet5", "mobilenet_v2", "resnet50", "resnet50_dynamic")
TRANSFORMERS = ("vit_tiny", "vit_b16") + tuple(BERT_CONFIGS) + tuple(GPT_CONFIGS)
DEFAULT = CNNS + ("vit_tiny", "bert_tiny_s128", "gpt_tiny")


def randomize_constant_parameters(model, seed=3):
    """Sets the parameters PyTorch initialises to constants (LayerNorm weight 1 and
    bias 0, attention biases 0, ViT's zero head and class token) to random values,
    and re-initialises the layers nn.TransformerEncoder made as copies of one."""
    gen = torch.Generator().manual_seed(seed)

    def rand(t, mean, std):
        t.copy_(mean + std * torch.randn(t.shape, generator=gen))
    with torch.no_grad():
        if isinstance(model, BertEncoder):
            for layer in model.encoder.layers:
                for m in layer.modules():
                    if isinstance(m, nn.Linear):
                        m.reset_parameters()
                    elif isinstance(m, nn.MultiheadAttention):
                        m._reset_parameters()
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                rand(m.weight, 1.0, 0.1)
                rand(m.bias, 0.0, 0.1)
            elif isinstance(m, nn.MultiheadAttention):
                rand(m.in_proj_bias, 0.0, 0.02)
                rand(m.out_proj.bias, 0.0, 0.02)
        if isinstance(model, torchvision.models.vision_transformer.VisionTransformer):
            model.heads.head.reset_parameters()
            rand(model.class_token, 0.0, 0.02)


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
    """Returns (model, shape): the PyTorch model, weights from fixed seeds, and the
    (batch 1) shape of its first input. CNNs have the one input "input". For the
    transformers shape is that of "input" (float; vit_*, bert_*) or of "input_ids"
    (int64 token ids; gpt_*, gpt2_*); bert_* models take a second input, "mask"
    float [1,S]: forward(input, mask). test_inputs(name) builds the test set's inputs."""
    torch.manual_seed(0)
    if name == "lenet5":
        return LeNet5(), (1, 1, 32, 32)
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None), (1, 3, 224, 224)
    if name in ("resnet50", "resnet50_dynamic"):
        return torchvision.models.resnet50(weights=None), (1, 3, 224, 224)
    if name == "vit_tiny":
        model = torchvision.models.vision_transformer.VisionTransformer(
            image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128,
            num_classes=10)
        shape = (1, 3, 32, 32)
    elif name == "vit_b16":
        model, shape = torchvision.models.vit_b_16(weights=None), (1, 3, 224, 224)
    elif name in BERT_CONFIGS:
        layers, d, heads, seq = BERT_CONFIGS[name]
        model, shape = BertEncoder(layers, d, heads), (1, seq, d)
    elif name in GPT_CONFIGS:
        layers, d, heads, vocab, positions, seq = GPT_CONFIGS[name]
        model, shape = GPT(layers, d, heads, vocab, positions), (1, seq)
    else:
        raise ValueError(name)
    randomize_constant_parameters(model)
    return model, shape


def test_inputs(name, shape, gen):
    """The test set's inputs as a list of (graph input name, tensor), in graph-input order."""
    if name in GPT_CONFIGS:
        vocab = GPT_CONFIGS[name][3]
        return [("input_ids", torch.randint(0, vocab, shape, generator=gen, dtype=torch.int64))]
    x = torch.randn(*shape, generator=gen)
    if name in BERT_CONFIGS:
        mask = torch.zeros(shape[0], shape[1])
        mask[:, -BERT_PADDING:] = -10000.0
        return [("input", x), ("mask", mask)]
    return [("input", x)]


# Bumped when the transformers' export changes (2: a dynamic batch).
TRANSFORMER_EXPORT_VERSION = "2"


def make(outdir, name):
    mdir = os.path.join(outdir, name)
    ddir = os.path.join(mdir, "test_data_set_0")
    model_path = os.path.join(mdir, "model.onnx")
    out_path = os.path.join(ddir, "output_0.pb")
    transformer = name in TRANSFORMERS
    n_inputs = 2 if name in BERT_CONFIGS else 1
    in_paths = [os.path.join(ddir, f"input_{k}.pb") for k in range(n_inputs)]
    # Transformers record how they were exported: an older export (static
    # batch) is made again rather than kept.
    version_path = os.path.join(mdir, "export_version")
    current = not transformer or (os.path.exists(version_path) and
                                  open(version_path).read().strip() == TRANSFORMER_EXPORT_VERSION)
    if current and all(os.path.exists(p) for p in [model_path, out_path] + in_paths):
        print(f"{name}: exists, skipped", flush=True)
        return
    os.makedirs(ddir, exist_ok=True)
    t0 = time.time()
    model, shape = build(name)
    if not transformer:
        calibrate_batchnorm(model, (8,) + shape[1:])
    model.eval()

    dynamic = name.endswith("_dynamic")
    test_shape = ((4,) + shape[1:]) if dynamic else shape
    gen = torch.Generator().manual_seed(2)
    inputs = test_inputs(name, test_shape, gen)
    args = tuple(t for _, t in inputs)
    if transformer:
        # Autograd stays on: no fused fast path, no nested tensors (see the top).
        y = model(*args).detach()
    else:
        with torch.no_grad():
            y = model(*args)

    kw = export_kwargs()
    if dynamic:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    if transformer:
        # Dim 0 of every input and of the output is the batch: the exporter
        # then computes shapes from the inputs (Shape, Gather, Concat,
        # Range...), which mini-infer folds away once --batch fixes them.
        kw["dynamic_axes"] = {n: {0: "batch"} for n, _ in inputs}
        kw["dynamic_axes"]["output"] = {0: "batch"}
    tmp = model_path + ".tmp"
    torch.onnx.export(
        model, args if transformer else torch.randn(*shape), tmp,
        opset_version=OPSET_TRANSFORMER if transformer else OPSET,
        input_names=[n for n, _ in inputs], output_names=["output"],
        training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True, **kw)
    onnx.checker.check_model(tmp if transformer else onnx.load(tmp))  # by path: over 2 GB safe
    os.replace(tmp, model_path)
    for path, (n, t) in zip(in_paths, inputs):
        a = t.numpy()
        save_tensor(path, a if a.dtype == np.int64 else a.astype(np.float32), n)
    save_tensor(out_path, y.numpy().astype(np.float32), "output")
    if transformer:
        with open(version_path, "w") as f:
            f.write(TRANSFORMER_EXPORT_VERSION + "\n")
    ops = {}
    for n in onnx.load(model_path).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    shapes = ", ".join(f"{n} {list(t.shape)}" for n, t in inputs)
    print(f"{name}: wrote {model_path} ({os.path.getsize(model_path)} bytes, "
          f"{sum(ops.values())} nodes: {ops}), input{'s' if len(inputs) > 1 else ''} {shapes}, "
          f"output {list(y.shape)} |y|max {float(y.abs().max()):.4g}, "
          f"{time.time() - t0:.1f} s", flush=True)


def main():
    names = sys.argv[2:] or list(DEFAULT)
    unknown = [n for n in names if n not in CNNS + TRANSFORMERS]
    if len(sys.argv) < 2 or unknown:
        print("usage: make_models.py OUTDIR [NAME...]\n  NAME: " + " ".join(CNNS + TRANSFORMERS) +
              "\n  default: " + " ".join(DEFAULT), file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name in names:
        make(outdir, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
