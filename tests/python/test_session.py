"""mini_infer.InferenceSession on the bundled models: the reference outputs,
numpy / buffer protocol / torch / DLPack inputs, batch ranges, the plan,
errors as exceptions, one context per thread, and no leak over bad input."""

import concurrent.futures
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import mini_infer

onnx = pytest.importorskip("onnx", reason="onnx reads the test sets' .pb files")
from onnx import numpy_helper  # noqa: E402


def read_pb(path):
    return numpy_helper.to_array(onnx.load_tensor(str(path)))


def data_set(models_dir, name):
    d = models_dir / name / "test_data_set_0"
    ins = sorted(d.glob("input_*.pb"))
    return [read_pb(p) for p in ins], read_pb(d / "output_0.pb")


def rel_err(got, want):
    return float(np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


@pytest.mark.parametrize("name", ["lenet5", "mobilenet_v2", "vit_tiny", "bert_tiny_s128", "gpt_tiny"])
def test_reference_outputs(models_dir, name):
    sess = mini_infer.InferenceSession(str(models_dir / name / "model.onnx"))
    ins, want = data_set(models_dir, name)
    feed = {a.name: x for a, x in zip(sess.get_inputs(), ins)}
    (got,) = sess.run(None, feed)
    assert got.shape == want.shape
    assert rel_err(got, want) <= 1e-4


def test_inputs_outputs_and_plan(models_dir):
    sess = mini_infer.InferenceSession(str(models_dir / "lenet5" / "model.onnx"))
    (i,) = sess.get_inputs()
    (o,) = sess.get_outputs()
    assert (i.name, i.shape, i.type) == ("input", (1, 1, 32, 32), "tensor(float)")
    assert (o.name, o.shape, o.type) == ("output", (1, 10), "tensor(float)")
    p = sess.plan
    assert p.arena >= p.lower_bound > 0 and p.weights > 0 and p.io > 0
    assert 0 < p.saving_ratio < 1
    places = sess.tensors()
    assert any(t.pool == "arena" for t in places) and all(t.offset % 256 == 0 for t in places)
    assert json.loads(sess.plan_json())["pools"]["arena"] == p.arena
    assert sess.svg().startswith("<svg") or "<svg" in sess.svg()[:200]


def test_input_kinds(models_dir):
    sess = mini_infer.InferenceSession(str(models_dir / "lenet5" / "model.onnx"))
    (x,), want = data_set(models_dir, "lenet5")
    base = sess.run(["output"], {"input": x})[0]
    assert rel_err(base, want) <= 1e-4
    # the buffer protocol (a memoryview of the bytes, reshaped by numpy)
    got = sess.run(None, {"input": np.frombuffer(memoryview(x.tobytes()), dtype=np.float32).reshape(x.shape)})[0]
    assert np.array_equal(got, base)
    # a strided view is copied
    wide = np.zeros((1, 1, 32, 64), np.float32)
    wide[..., ::2] = x
    assert np.array_equal(sess.run(None, {"input": wide[..., ::2]})[0], base)
    torch = pytest.importorskip("torch", reason="torch gives CPU tensors with __dlpack__")
    t = torch.from_numpy(x.copy())
    assert np.array_equal(sess.run(None, {"input": t})[0], base)


def test_batch_range(models_dir):
    sess = mini_infer.InferenceSession(str(models_dir / "gpt_tiny" / "model.onnx"), batch=[4, 1, 2])
    assert sess.batch_sizes == (1, 2, 4)
    assert sess.get_inputs()[0].shape == (4, 32)
    (ids,), want = data_set(models_dir, "gpt_tiny")
    for b in sess.batch_sizes:
        (got,) = sess.run(None, {"input_ids": np.repeat(ids, b, axis=0)})
        assert got.shape == (b,) + want.shape[1:]
        for k in range(b):
            assert rel_err(got[k], want[0]) <= 1e-4
    assert sess.plan.shared_arena == sess.plan_info(4).arena
    with pytest.raises(ValueError, match=r"batch size 3 was not planned.*\[1, 2, 4\]"):
        sess.run(None, {"input_ids": np.repeat(ids, 3, axis=0)})


def test_bad_input_raises(models_dir, tmp_path):
    path = str(models_dir / "lenet5" / "model.onnx")
    sess = mini_infer.InferenceSession(path)
    x = np.zeros((1, 1, 32, 32), np.float32)
    with pytest.raises(ValueError, match=r"unknown input 'x'.*\['input'\]"):
        sess.run(None, {"x": x})
    with pytest.raises(ValueError, match="missing"):
        sess.run(None, {})
    with pytest.raises(ValueError, match=r"dtype float64, expected float32"):
        sess.run(None, {"input": x.astype(np.float64)})
    with pytest.raises(ValueError, match=r"shape \(1, 1, 32, 31\), expected \(1, 1, 32, 32\)"):
        sess.run(None, {"input": x[..., :31]})
    with pytest.raises(ValueError, match="unknown output 'nope'"):
        sess.run(["nope"], {"input": x})
    missing = str(tmp_path / "missing.onnx")
    with pytest.raises(mini_infer.MiError, match="missing.onnx") as e:
        mini_infer.InferenceSession(missing)
    assert e.value.status == "MI_ERR_IO"
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(mini_infer.MiError):
        mini_infer.InferenceSession(str(bad))
    with pytest.raises(mini_infer.MiError, match="device"):
        mini_infer.InferenceSession(path, device="tpu")
    with pytest.raises(ValueError, match="precision"):
        mini_infer.InferenceSession(path, precision="fp8")


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_bad_input_does_not_leak(models_dir, tmp_path):
    path = str(models_dir / "lenet5" / "model.onnx")
    sess = mini_infer.InferenceSession(path)
    x = np.zeros((1, 1, 32, 32), np.float32)
    missing = str(tmp_path / "missing.onnx")

    def round_of_bad_input():
        for call in (lambda: sess.run(None, {"x": x}), lambda: sess.run(None, {"input": x[..., :31]}),
                     lambda: mini_infer.InferenceSession(missing), lambda: mini_infer.InferenceSession(path, device="tpu")):
            try:
                call()
            except (ValueError, mini_infer.MiError):
                pass
        sess.run(None, {"input": x})

    for _ in range(200):  # warm up allocators
        round_of_bad_input()
    before = _rss_kib()
    for _ in range(2000):
        round_of_bad_input()
    grown = _rss_kib() - before
    assert grown < 2048, f"resident memory grew by {grown} KiB over 2000 rounds of bad input"


def test_threads_one_context_each(models_dir):
    sess = mini_infer.InferenceSession(str(models_dir / "mobilenet_v2" / "model.onnx"))
    (x,), want = data_set(models_dir, "mobilenet_v2")
    rng = np.random.default_rng(0)
    xs = [x] + [rng.standard_normal(x.shape).astype(np.float32) for _ in range(3)]
    refs = [sess.run(None, {"input": v})[0] for v in xs]

    def work(k):
        return all(np.array_equal(sess.run(None, {"input": xs[k % 4]})[0], refs[k % 4]) for _ in range(5))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


def test_module_cli(models_dir):
    out = subprocess.run([sys.executable, "-m", "mini_infer", "plan", str(models_dir / "lenet5" / "model.onnx"),
                          "--json"], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["pools"]["arena"] > 0
    r = subprocess.run([sys.executable, "-m", "mini_infer", "nonsense"], capture_output=True, text=True)
    assert r.returncode == 2
