"""mini-infer for Python: ONNX models planned into one arena, run on the CPU or a GPU.

The API follows ONNX Runtime's::

    import numpy as np, mini_infer
    sess = mini_infer.InferenceSession("resnet50.onnx")            # device="cpu", "cuda", "cuda:N"
    x = np.random.rand(*sess.get_inputs()[0].shape).astype(np.float32)
    (scores,) = sess.run(None, {sess.get_inputs()[0].name: x})
    sess.plan.arena, sess.plan.saving_ratio                          # the memory plan

A session plans at load time for one batch size, or for several
(``batch=[1, 8, 32]``: the weights held once, one arena for the largest),
and picks the size from the inputs' first dimension at each run. Each thread
gets its own context (arena and inputs/outputs); the GIL is released while
the engine runs. Errors of the engine raise :class:`MiError`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._core import MiError

__all__ = ["InferenceSession", "NodeArg", "PlanInfo", "MiError", "get_version"]
__version__ = "0.1.0"

# The engine's dtype names, as numpy dtypes and as ONNX Runtime's type strings.
_NUMPY = {
    "float": np.float32, "float16": np.float16, "double": np.float64, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "int64": np.int64, "bool": np.bool_,
}


def get_version() -> str:
    """The engine's version."""
    return _core.version()


@dataclass(frozen=True)
class NodeArg:
    """An input or output: its name, shape (at the largest planned batch size) and type."""

    name: str
    shape: Tuple[int, ...]
    type: str
    dtype: str

    def numpy_dtype(self) -> Any:
        return _NUMPY.get(self.dtype)


@dataclass(frozen=True)
class PlanInfo:
    """A plan's figures, in bytes: the activations arena, the weights, the inputs/outputs pool."""

    arena: int
    weights: int
    io: int
    lower_bound: int
    naive_arena: int
    alignment: int
    saving_ratio: float
    strategy: str
    proven_optimal: bool
    batch: int
    shared_arena: int
    weights_held: int


@dataclass(frozen=True)
class TensorPlace:
    """Where the plan puts one tensor: its pool, offset and size, and the steps it is live."""

    name: str
    pool: str
    offset: int
    size: int
    first: int
    last: int


def _node_args(items) -> List[NodeArg]:
    return [NodeArg(name, tuple(shape), "tensor(%s)" % dtype, dtype) for name, shape, dtype, _ in items]


def _as_array(value: Any, what: str) -> np.ndarray:
    """A C-contiguous numpy view (or copy) of value: numpy, the buffer protocol, or DLPack on the CPU."""
    if isinstance(value, np.ndarray):
        arr = value
    elif hasattr(value, "__dlpack__"):
        device = value.__dlpack_device__()[0] if hasattr(value, "__dlpack_device__") else 1
        if device != 1:  # kDLCPU
            raise ValueError(f"{what}: a tensor on DLPack device type {device}; this session takes host memory "
                             "(copy it to the CPU first)")
        arr = np.from_dlpack(value)
    else:
        arr = np.asarray(memoryview(value)) if not isinstance(value, (list, tuple, int, float)) else np.asarray(value)
    # A strided view is copied: the engine reads one contiguous block.
    return np.ascontiguousarray(arr)


class InferenceSession:
    """A model loaded and planned once; run it from any number of threads.

    path: the .onnx file (external data beside it). device: "cpu" (default),
    "cuda" or "cuda:N". precision: "fp32" (as the model declares), "fp16" or
    "bf16". batch: None (as exported), an int (dim 0 of every input), or a
    sequence of sizes (a batch range, planned at load). strategy: the
    planner's ("auto", "greedy-size", "exact", ...). cuda_graph, tf32:
    CUDA only. trust_external_data: read external data through symbolic
    or hard links, also outside the model's folder (trusted models only).
    """

    def __init__(self, path: str, device: str = "cpu", precision: str = "fp32",
                 batch: Union[None, int, Iterable[int]] = None, strategy: str = "auto", *,
                 alignment: int = 256, cuda_graph: bool = False, tf32: bool = False, layout: str = "auto",
                 fuse: bool = True, verbose: bool = False, trust_external_data: bool = False):
        if batch is None:
            batches = None
        elif isinstance(batch, (int, np.integer)):
            batches = [int(batch)]
        else:
            batches = [int(b) for b in batch]
        self._path = str(path)
        self._device = device
        self._model = _core.Model(self._path, device=device, precision=precision, batches=batches,
                                  strategy=strategy, alignment=alignment, cuda_graph=cuda_graph, tf32=tf32,
                                  layout=layout, fuse=fuse, verbose=verbose,
                                  external_data_anywhere=trust_external_data)
        self._batch_sizes = tuple(self._model.batch_sizes())
        self._ranged = batches is not None and len(set(batches)) > 1
        self._inputs = _node_args(self._model.inputs())
        self._outputs = _node_args(self._model.outputs())
        self._local = threading.local()

    # ---- what the model takes and gives ----

    @property
    def batch_sizes(self) -> Tuple[int, ...]:
        """The batch sizes planned at load, ascending."""
        return self._batch_sizes

    @property
    def device(self) -> str:
        return self._device

    def get_inputs(self) -> List[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> List[NodeArg]:
        return list(self._outputs)

    # ---- the plan ----

    def plan_info(self, batch: int = 0) -> PlanInfo:
        """The plan's pools and figures at one planned batch size (0: the largest)."""
        return PlanInfo(**self._model.plan_info(self._size_arg(batch)))

    @property
    def plan(self) -> PlanInfo:
        return self.plan_info()

    def tensors(self, batch: int = 0) -> List[TensorPlace]:
        """Every tensor's pool, offset, size and live steps."""
        return [TensorPlace(*t) for t in self._model.tensors(self._size_arg(batch))]

    def plan_json(self, batch: int = 0) -> str:
        """What `mini-infer plan --json` prints."""
        return self._model.plan_json(self._size_arg(batch))

    def svg(self, batch: int = 0) -> str:
        """The arena as an SVG picture."""
        return self._model.svg(self._size_arg(batch))

    # ---- running ----

    def _context(self) -> "_core.Context":
        ctx = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = _core.Context(self._model)
            self._local.ctx = ctx
        return ctx

    def _size_arg(self, batch: int) -> int:
        return int(batch) if self._ranged else 0

    def _batch_of(self, arrays: Sequence[np.ndarray]) -> int:
        if not self._ranged:
            return 0
        sizes = {a.shape[0] for a in arrays if a.ndim > 0}
        if len(sizes) != 1:
            raise ValueError(f"the inputs disagree on the batch size (dim 0): {sorted(sizes)}")
        b = sizes.pop()
        if b not in self._batch_sizes:
            raise ValueError(f"batch size {b} was not planned; this session has {list(self._batch_sizes)}")
        return b

    def run(self, output_names: Optional[Sequence[str]], input_feed: Dict[str, Any],
            run_options: Any = None) -> List[np.ndarray]:
        """Runs the model: input_feed maps every input's name to an array (numpy, the buffer protocol,
        or a CPU tensor with __dlpack__); returns the outputs named (None: all) as new numpy arrays."""
        names = [a.name for a in self._inputs]
        unknown = [k for k in input_feed if k not in names]
        if unknown:
            raise ValueError(f"unknown input {unknown[0]!r}; the model's inputs are {names}")
        missing = [n for n in names if n not in input_feed]
        if missing:
            raise ValueError(f"input {missing[0]!r} is missing; the model's inputs are {names}")
        arrays = [_as_array(input_feed[n], f"input {n!r}") for n in names]
        batch = self._batch_of(arrays)
        ins = _node_args(self._model.inputs(batch)) if batch else self._inputs
        outs = _node_args(self._model.outputs(batch)) if batch else self._outputs
        for arg, arr in zip(ins, arrays):
            want = arg.numpy_dtype()
            if want is None:
                raise ValueError(f"input {arg.name!r} has type {arg.type}, which numpy cannot hold")
            if arr.dtype != want:
                raise ValueError(f"input {arg.name!r}: dtype {arr.dtype}, expected {np.dtype(want)} ({arg.type})")
            if tuple(arr.shape) != arg.shape:
                raise ValueError(f"input {arg.name!r}: shape {tuple(arr.shape)}, expected {arg.shape}"
                                 + (f" (planned batch sizes {list(self._batch_sizes)})" if self._ranged else ""))
        out_names = [a.name for a in outs]
        if output_names is not None:
            bad = [n for n in output_names if n not in out_names]
            if bad:
                raise ValueError(f"unknown output {bad[0]!r}; the model's outputs are {out_names}")
        results = [np.empty(a.shape, dtype=a.numpy_dtype()) for a in outs]
        self._context().run(batch, arrays, results)
        if output_names is None:
            return results
        return [results[out_names.index(n)] for n in output_names]

    def __repr__(self) -> str:
        return (f"InferenceSession({self._path!r}, device={self._device!r}, batch sizes {list(self._batch_sizes)}, "
                f"arena {self.plan.shared_arena} bytes)")
