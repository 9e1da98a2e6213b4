"""Serving a mini-infer model on Ray Serve, with dynamic batching onto planned batch sizes.

Install with the ``serve`` extra (``pip install mini_infer[serve]``), then::

    from ray import serve
    from mini_infer.serve import build_app

    app = build_app("model.onnx", device="cuda", batch_sizes=(1, 2, 4, 8), num_replicas=4)
    handle = serve.run(app)
    outputs = handle.infer.remote({"input": sample}).result()   # sample: one item, no batch dim

What runs where
---------------
One replica (a Ray actor) per GPU, or per CPU slot. With ``device="cuda"`` every replica asks
Ray for one GPU (``ray_actor_options={"num_gpus": 1}``); Ray then sets ``CUDA_VISIBLE_DEVICES``
in the replica to the GPU it was given, so ``"cuda"`` (device 0 of what the process sees) is
that GPU and no two replicas share one. Do not pass ``"cuda:N"`` together with Ray's GPU
assignment: N counts within the devices Ray made visible, usually just one. On the CPU a
replica takes ``num_cpus_per_replica`` CPUs of the node (one slot), and Ray places as many
replicas on a node as it has slots.

What a replica holds
--------------------
Each replica opens ONE :class:`mini_infer.InferenceSession`, planned at load for every size in
``batch_sizes``: the weights once, one activations arena for the largest size (the smaller
sizes run in the same arena), and one inputs/outputs pool; on a GPU also one CUDA context and
the library handles the model's nodes use. The session keeps one context (arena and pool) per
thread that runs it, so a replica runs every batch on one thread of its own. Nothing is planned
per request.

How requests are batched
------------------------
A request is ONE item: a dict ``input name -> array`` whose shape is the model input's shape
without the batch dimension (dim 0 of every input and output is the batch). An array that
still has a leading batch dimension of 1 (same rank as the model input, dim 0 == 1) is
accepted too. Each output comes back without its batch dimension.

``@serve.batch`` gathers up to ``max(batch_sizes)`` concurrent requests, waiting at most
``max_batch_wait_s`` after the first. The gathered items are stacked, padded with zeros up
to the smallest planned size that holds them (3 requests run at size 4 when the sizes are
1, 2, 4, 8), run, and the outputs are split back, the padding rows dropped. The session only
ever runs at a planned size. Requests are checked (names, dtypes, shapes) before they join a
batch, so a bad request fails alone and does not take the others of its batch down.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

try:
    from ray import serve
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mini_infer.serve needs Ray Serve, which is an optional extra: "
        "pip install mini_infer[serve]  (or: pip install 'ray[serve]')"
    ) from _e

__all__ = ["MiniInferModel", "build_app", "app_builder", "plan_batches", "DEFAULT_BATCH_SIZES"]

DEFAULT_BATCH_SIZES: Tuple[int, ...] = (1, 2, 4, 8)

# ONNX tensor types (NodeArg.type) -> numpy dtypes
_ONNX_TO_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
}


def _numpy_dtype(onnx_type: str) -> Optional[np.dtype]:
    t = _ONNX_TO_NUMPY.get(onnx_type)
    return None if t is None else np.dtype(t)


def plan_batches(n: int, batch_sizes: Sequence[int]) -> List[Tuple[int, int]]:
    """Split ``n`` items over the planned ``batch_sizes``.

    Returns a list of ``(items, planned_size)`` chunks: chunks of the largest size while more
    than it remain, then the smallest planned size that holds the rest (padded with zeros).
    ``plan_batches(11, (1, 2, 4, 8)) == [(8, 8), (3, 4)]``.
    """
    sizes = sorted(set(int(b) for b in batch_sizes))
    if not sizes or sizes[0] < 1:
        raise ValueError(f"batch sizes must be positive integers, got {list(batch_sizes)}")
    if n < 0:
        raise ValueError("n must be >= 0")
    largest = sizes[-1]
    out: List[Tuple[int, int]] = []
    while n > 0:
        k = min(n, largest)
        out.append((k, next(b for b in sizes if b >= k)))
        n -= k
    return out


class _Spec:
    """What a request for one input must look like (taken from the session once)."""

    __slots__ = ("name", "item_shape", "dtype", "onnx_type")

    def __init__(self, node_arg: Any):
        self.name: str = node_arg.name
        shape = tuple(node_arg.shape)
        # dim 0 is the batch; a non-integer dim (a symbol, None) is accepted as any size
        self.item_shape = tuple(d if isinstance(d, (int, np.integer)) else None for d in shape[1:])
        self.onnx_type: str = node_arg.type
        self.dtype = _numpy_dtype(node_arg.type)

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(int(d)) for d in self.item_shape)
        return f"{self.name}: [{dims}] {self.onnx_type}"

    def check(self, value: Any) -> np.ndarray:
        """One request's value as an array of the item shape (no batch dim), or ValueError."""
        if self.dtype is not None:
            src = np.asarray(value)
            if src.dtype == object:
                raise ValueError(f"input '{self.name}': not a rectangular array of numbers")
            if not np.can_cast(src.dtype, self.dtype, casting="same_kind"):
                raise ValueError(
                    f"input '{self.name}': dtype {src.dtype} cannot become {self.onnx_type}")
            arr = np.ascontiguousarray(src, dtype=self.dtype)
        else:
            arr = np.ascontiguousarray(np.asarray(value))
        rank = len(self.item_shape)
        if arr.ndim == rank + 1 and arr.shape[0] == 1:
            arr = arr[0]  # a leading batch dim of 1 is tolerated
        ok = arr.ndim == rank and all(
            d is None or int(d) == s for d, s in zip(self.item_shape, arr.shape))
        if not ok:
            raise ValueError(
                f"input '{self.name}': one request is one item of shape "
                f"{list(self.item_shape)} (the model's shape without the batch dim, or with a "
                f"leading 1), got {list(arr.shape)}")
        return arr


class _MiniInferModel:
    """A Ray Serve replica: one :class:`mini_infer.InferenceSession` and a dynamic batcher.

    Args:
        model_path: the ONNX file, readable on every node a replica may run on.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Under Ray with ``num_gpus=1`` use
            ``"cuda"``: Ray has set ``CUDA_VISIBLE_DEVICES`` to the replica's GPU.
        batch_sizes: the batch sizes planned at load (``InferenceSession(batch=[...])``): the
            weights are held once and one arena is sized for the largest. Requests are only
            ever run at one of these sizes.
        max_batch_wait_s: how long the batcher waits for more requests after the first.
        session_options: extra keyword arguments for ``InferenceSession``.

    Methods called through a handle: ``infer(inputs)`` (one item, see the module's doc),
    ``metadata()``, ``stats()``. Over HTTP: POST ``{"inputs": {name: nested lists}}``, answer
    ``{"outputs": {name: nested lists}}`` (status 400 and ``{"error": ...}`` for a bad request).
    """

    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
        max_batch_wait_s: float = 0.005,
        session_options: Optional[Mapping[str, Any]] = None,
    ):
        import mini_infer  # in the replica's process

        sizes = sorted(set(int(b) for b in batch_sizes))
        if not sizes or sizes[0] < 1:
            raise ValueError(f"batch_sizes must be positive integers, got {list(batch_sizes)}")
        self._error_types: Tuple[type, ...] = (ValueError, TypeError)
        mi_error = getattr(mini_infer, "MiError", None)
        if isinstance(mi_error, type) and issubclass(mi_error, BaseException):
            self._error_types = self._error_types + (mi_error,)

        self._model_path = str(model_path)
        self._device = device
        self._session = mini_infer.InferenceSession(
            self._model_path, device=device, batch=list(sizes), **dict(session_options or {}))
        planned = getattr(self._session, "batch_sizes", None)
        self._batch_sizes: Tuple[int, ...] = tuple(sorted(int(b) for b in planned)) if planned else tuple(sizes)
        self._inputs = [_Spec(a) for a in self._session.get_inputs()]
        self._outputs = [a.name for a in self._session.get_outputs()]
        # Every run happens on this one thread: the session keeps one context (arena and
        # inputs/outputs pool) per thread that runs it, so the replica holds exactly one.
        self._runner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mini_infer")
        self._run_lock = threading.Lock()

        # the batcher's size follows what was actually planned
        self._run_batch.set_max_batch_size(self._batch_sizes[-1])
        self._run_batch.set_batch_wait_timeout_s(float(max_batch_wait_s))

        self._stats_lock = threading.Lock()
        self._batches: List[Tuple[int, int]] = []  # (requests, planned size) of every run
        self._requests = 0
        self._started = time.time()

    # -- called through a handle -------------------------------------------------------------

    async def infer(self, inputs: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        """Run one item (``name -> array``, no batch dim); returns ``name -> array`` (no batch dim).

        Raises ValueError for a request that does not match the model's inputs."""
        item = self._check(inputs)
        return await self._run_batch(item)

    def metadata(self) -> Dict[str, Any]:
        """The model's inputs and outputs as served, and the planned batch sizes."""
        return {
            "model": self._model_path,
            "device": self._device,
            "batch_sizes": list(self._batch_sizes),
            "inputs": [{"name": s.name, "shape": [None if d is None else int(d) for d in s.item_shape],
                        "type": s.onnx_type} for s in self._inputs],
            "outputs": list(self._outputs),
        }

    def stats(self) -> Dict[str, Any]:
        """What this replica ran: every batch as ``[requests, planned size]``."""
        with self._stats_lock:
            return {
                "requests": self._requests,
                "batches": [list(b) for b in self._batches],
                "batch_sizes": list(self._batch_sizes),
                "uptime_s": time.time() - self._started,
            }

    # -- over HTTP -----------------------------------------------------------------------------

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        try:
            body = await request.json()
        except Exception:  # noqa: BLE001 - any parse error is the client's
            return JSONResponse({"error": "the body must be JSON: {\"inputs\": {name: nested lists}}"},
                                status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), dict):
            return JSONResponse({"error": "the body must be {\"inputs\": {name: nested lists}}"},
                                status_code=400)
        try:
            outputs = await self.infer(body["inputs"])
        except self._error_types as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return {"outputs": {k: np.asarray(v).tolist() for k, v in outputs.items()}}

    # -- batching ------------------------------------------------------------------------------

    def _check(self, inputs: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        if not isinstance(inputs, Mapping):
            raise ValueError("inputs must be a dict: input name -> array (one item, no batch dim)")
        names = [s.name for s in self._inputs]
        missing = [n for n in names if n not in inputs]
        extra = [n for n in inputs if n not in names]
        if missing or extra:
            raise ValueError(
                f"inputs {sorted(inputs)} do not match the model's "
                f"[{'; '.join(s.describe() for s in self._inputs)}]"
                + (f"; missing {missing}" if missing else "") + (f"; unknown {extra}" if extra else ""))
        return {s.name: s.check(inputs[s.name]) for s in self._inputs}

    @serve.batch(max_batch_size=max(DEFAULT_BATCH_SIZES), batch_wait_timeout_s=0.005)
    async def _run_batch(self, items: List[Dict[str, np.ndarray]]) -> List[Dict[str, np.ndarray]]:
        # the run goes to the replica's one runner thread (the session releases the GIL): the
        # event loop keeps taking requests for the next batch meanwhile
        return await asyncio.get_running_loop().run_in_executor(self._runner, self._run_items, items)

    def _run_items(self, items: List[Dict[str, np.ndarray]]) -> List[Dict[str, np.ndarray]]:
        results: List[Dict[str, np.ndarray]] = []
        start = 0
        for n, size in plan_batches(len(items), self._batch_sizes):
            chunk = items[start:start + n]
            start += n
            feed = {}
            for s in self._inputs:
                first = chunk[0][s.name]
                batch = np.zeros((size,) + first.shape, dtype=first.dtype)
                for i, it in enumerate(chunk):
                    batch[i] = it[s.name]
                feed[s.name] = batch
            with self._run_lock:
                outs = self._session.run(None, feed)
            for i in range(n):
                # copies: a request's answer must not keep the whole batch's array alive
                results.append({name: np.array(o[i]) for name, o in zip(self._outputs, outs)})
            with self._stats_lock:
                self._batches.append((n, size))
                self._requests += n
        return results


MiniInferModel = serve.deployment(_MiniInferModel, name="MiniInferModel")
MiniInferModel.__doc__ = _MiniInferModel.__doc__


def build_app(
    model_path: str,
    *,
    device: str = "cpu",
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    num_replicas: int = 1,
    num_gpus_per_replica: Optional[float] = None,
    num_cpus_per_replica: float = 1,
    max_batch_wait_s: float = 0.005,
    max_ongoing_requests: Optional[int] = None,
    name: str = "MiniInferModel",
    session_options: Optional[Mapping[str, Any]] = None,
) -> "serve.Application":
    """A bound Serve application: ``num_replicas`` replicas of :class:`MiniInferModel`.

    One replica per GPU: with a ``"cuda"`` device each replica asks for
    ``num_gpus_per_replica`` GPUs (1 unless given), and Ray sets ``CUDA_VISIBLE_DEVICES`` so
    ``"cuda"`` is the replica's own GPU. On the CPU (``num_gpus_per_replica`` 0) a replica
    takes ``num_cpus_per_replica`` CPUs: one replica per CPU slot.

    Each replica plans the model once at load, for every size of ``batch_sizes`` (the weights
    once, one arena for the largest size), and runs concurrent requests in batches of those
    sizes only. ``max_ongoing_requests`` (default: twice the largest batch size, at least 16)
    must be at least the largest batch size, or a replica never sees enough requests at once
    to fill a batch.

    Run it with ``serve.run(build_app(...))`` or from a Serve config file
    (``import_path``/``args`` pointing at a function that returns ``build_app(...)``).
    """
    sizes = sorted(set(int(b) for b in batch_sizes))
    if not sizes or sizes[0] < 1:
        raise ValueError(f"batch_sizes must be positive integers, got {list(batch_sizes)}")
    if num_gpus_per_replica is None:
        num_gpus_per_replica = 1 if str(device).startswith("cuda") else 0
    if max_ongoing_requests is None:
        max_ongoing_requests = max(16, 2 * sizes[-1])
    if max_ongoing_requests < sizes[-1]:
        raise ValueError(
            f"max_ongoing_requests ({max_ongoing_requests}) is below the largest batch size ({sizes[-1]})")
    actor_options: Dict[str, Any] = {"num_cpus": num_cpus_per_replica}
    if num_gpus_per_replica:
        actor_options["num_gpus"] = num_gpus_per_replica
    return MiniInferModel.options(
        name=name,
        num_replicas=num_replicas,
        ray_actor_options=actor_options,
        max_ongoing_requests=max_ongoing_requests,
    ).bind(model_path, device=device, batch_sizes=sizes, max_batch_wait_s=max_batch_wait_s,
           session_options=dict(session_options or {}))


def _int_list(value: Any) -> List[int]:
    if isinstance(value, str):
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    return [int(v) for v in value]


def app_builder(args: Mapping[str, Any]) -> "serve.Application":
    """``build_app`` for Serve's command line and config files, which pass a dict of arguments.

    ``serve run mini_infer.serve:app_builder model_path=model.onnx device=cuda batch_sizes=1,2,4,8
    num_replicas=2``, or in a Serve config (a KubeRay RayService's ``serveConfigV2``)::

        import_path: mini_infer.serve:app_builder
        args: {model_path: /models/model.onnx, device: cuda, batch_sizes: [1, 2, 4, 8], num_replicas: 2}

    Keys: those of :func:`build_app` (``model_path`` required); values may be strings.
    """
    a = dict(args)
    if "model_path" not in a:
        raise ValueError("app_builder needs model_path=PATH (the .onnx file, on every node)")
    kw: Dict[str, Any] = {}
    converters = {
        "device": str, "name": str,
        "batch_sizes": _int_list,
        "num_replicas": int, "max_ongoing_requests": int,
        "num_gpus_per_replica": float, "num_cpus_per_replica": float, "max_batch_wait_s": float,
        "session_options": dict,
    }
    for key, value in a.items():
        if key == "model_path":
            continue
        if key not in converters:
            raise ValueError(f"app_builder: unknown argument {key!r}; known: model_path, {', '.join(converters)}")
        kw[key] = converters[key](value)
    return build_app(str(a["model_path"]), **kw)
