"""mini_infer.serve on a local Ray instance that stays on the loopback address.

Ray is an optional extra (pip install .[serve]); without it, or without the mini_infer package,
or without the bundled models (scripts/run.sh exports them into build/models), the module is
skipped, saying why. MI_MODELS_DIR points at another models folder.

The Ray instance: a new local one (never an existing cluster), usage stats off (Ray otherwise
reports usage over the network), its node on 127.0.0.1, no dashboard, 2 CPUs, a small object
store; Serve's HTTP proxy on 127.0.0.1 at a free port. The node's address is checked before
any request is sent.
"""

import os

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported
# On Linux Ray replaces a node address of 127.0.0.1 by the machine's routable address and its
# servers listen there; with this flag at 0 (its name notwithstanding) the node keeps 127.0.0.1
# and every server Ray starts listens on it.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.pop("RAY_ADDRESS", None)  # never join a cluster this machine may know of

import json
import pathlib
import socket
import time
import urllib.error
import urllib.request

import pytest

np = pytest.importorskip("numpy", reason="numpy is not installed")
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install mini_infer[serve])")
pytest.importorskip("ray.serve", reason="Ray Serve is not installed (pip install mini_infer[serve])")
from ray import serve  # noqa: E402

mini_infer = pytest.importorskip(
    "mini_infer", reason="the mini_infer package is not importable (pip install .[serve])")
mi_serve = pytest.importorskip("mini_infer.serve", reason="mini_infer.serve is not importable")

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = pathlib.Path(os.environ.get("MI_MODELS_DIR", str(REPO / "build" / "models")))
MODEL = MODELS / "lenet5" / "model.onnx"
BATCH_SIZES = (1, 2, 4, 8)
LOOPBACK = "127.0.0.1"
N_CONCURRENT = 6
ATOL = 1e-5

if not MODEL.is_file():
    pytest.skip(f"{MODEL} is missing (scripts/run.sh exports the models; or set MI_MODELS_DIR)",
                allow_module_level=True)


LOOPBACK_ADDRS = {LOOPBACK, "::ffff:" + LOOPBACK, "::1", "localhost"}


def _listening_off_loopback():
    """Sockets that this process or a process it started listens on, off the loopback address."""
    try:
        import psutil
    except ImportError:
        try:
            from ray.thirdparty_files import psutil  # Ray bundles one
        except ImportError:
            return None
    me = psutil.Process()
    bad = []
    for p in [me] + me.children(recursive=True):
        try:
            conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections(kind="inet")
            name = p.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.ip not in LOOPBACK_ADDRS:
                bad.append(f"{name}[{p.pid}] {c.laddr.ip}:{c.laddr.port}")
    return bad


def _free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _serve_grpc_on_loopback_hook():
    """A worker_process_setup_hook. Ray Serve (2.60 at least) starts each replica's
    inter-deployment gRPC server on "[::]:0", every interface, whatever the node's address; in
    this test's workers it binds the loopback address instead. Nothing else changes.

    Made inside a function so that it travels to the workers by value (they cannot import
    this test module)."""

    def hook():
        try:
            import ray.serve._private.replica as replica
        except ImportError:
            return
        bind = getattr(replica, "add_port_to_grpc_server", None)
        if bind is None or getattr(bind, "_mi_loopback", False):
            return

        def on_loopback(server, address):
            if isinstance(address, str) and address.startswith(("[::]:", "0.0.0.0:")):
                address = "127.0.0.1:" + address.rsplit(":", 1)[1]
            return bind(server, address)

        on_loopback._mi_loopback = True
        replica.add_port_to_grpc_server = on_loopback

    return hook


@pytest.fixture(scope="module")
def ray_local():
    if ray.is_initialized():
        ray.shutdown()
    t0 = time.monotonic()
    ray.init(
        address="local",  # a new instance, not one found through RAY_ADDRESS or /tmp/ray
        _node_ip_address=LOOPBACK,
        include_dashboard=False,
        num_cpus=2,
        num_gpus=0,
        object_store_memory=80 * 1024 * 1024,
        log_to_driver=False,
        namespace="mini_infer_test_serve",
        runtime_env={"worker_process_setup_hook": _serve_grpc_on_loopback_hook()},
    )
    try:
        # before any request: everything Ray started is on the loopback address
        assert ray.util.get_node_ip_address() == LOOPBACK
        nodes = ray.nodes()
        assert nodes and all(n["NodeManagerAddress"] == LOOPBACK for n in nodes), nodes
        gcs = ray.get_runtime_context().gcs_address
        assert gcs.rsplit(":", 1)[0] == LOOPBACK, gcs
        bad = _listening_off_loopback()
        assert not bad, f"Ray listens off the loopback address: {bad}"
        yield {"started_s": time.monotonic() - t0}
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def deployed(ray_local):
    port = _free_loopback_port()
    serve.start(http_options={"host": LOOPBACK, "port": port})
    try:
        t0 = time.monotonic()
        app = mi_serve.build_app(
            str(MODEL), device="cpu", batch_sizes=BATCH_SIZES, num_replicas=1,
            num_cpus_per_replica=1,
            # long enough that requests sent together land in one batch
            max_batch_wait_s=0.25)
        handle = serve.run(app, name="mi_lenet5", route_prefix="/lenet5")
        bad = _listening_off_loopback()  # Serve's controller, proxy and replica too
        assert not bad, f"Serve listens off the loopback address: {bad}"
        yield {"handle": handle, "url": f"http://{LOOPBACK}:{port}/lenet5",
               "deploy_s": time.monotonic() - t0}
    finally:
        serve.shutdown()


@pytest.fixture(scope="module")
def reference():
    """A direct session at batch 1, and the input's spec (name, item shape)."""
    sess = mini_infer.InferenceSession(str(MODEL), device="cpu", batch=1)
    (inp,) = sess.get_inputs()
    return sess, inp.name, tuple(inp.shape[1:]), [o.name for o in sess.get_outputs()]


def _items(name, item_shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return [{name: rng.standard_normal(item_shape).astype(np.float32)} for _ in range(n)]


def _direct(sess, outputs, item):
    outs = sess.run(None, {k: v[None] for k, v in item.items()})
    return {name: o[0] for name, o in zip(outputs, outs)}


def test_plan_batches():
    assert mi_serve.plan_batches(0, BATCH_SIZES) == []
    assert mi_serve.plan_batches(1, BATCH_SIZES) == [(1, 1)]
    assert mi_serve.plan_batches(3, BATCH_SIZES) == [(3, 4)]
    assert mi_serve.plan_batches(6, BATCH_SIZES) == [(6, 8)]
    assert mi_serve.plan_batches(11, BATCH_SIZES) == [(8, 8), (3, 4)]
    assert mi_serve.plan_batches(5, (2, 8)) == [(5, 8)]
    assert mi_serve.plan_batches(17, (8,)) == [(8, 8), (8, 8), (1, 8)]


def test_concurrent_requests_match_direct_session(deployed, reference):
    sess, name, item_shape, outputs = reference
    handle = deployed["handle"]
    meta = handle.metadata.remote().result()
    assert meta["batch_sizes"] == list(BATCH_SIZES)
    assert meta["inputs"][0]["name"] == name and tuple(meta["inputs"][0]["shape"]) == item_shape

    items = _items(name, item_shape, N_CONCURRENT, seed=1)
    before = handle.stats.remote().result()["requests"]
    t0 = time.monotonic()
    responses = [handle.infer.remote(it) for it in items]  # all in flight at once
    got = [r.result(timeout_s=60) for r in responses]
    took = time.monotonic() - t0
    for it, g in zip(items, got):
        want = _direct(sess, outputs, it)
        assert sorted(g) == sorted(want)
        for k in want:
            assert g[k].shape == want[k].shape, (k, g[k].shape, want[k].shape)
            np.testing.assert_allclose(g[k], want[k], rtol=0, atol=ATOL)
    # a leading batch dim of 1 is accepted as well
    one = handle.infer.remote({name: items[0][name][None]}).result(timeout_s=60)
    np.testing.assert_allclose(one[outputs[0]], got[0][outputs[0]], rtol=0, atol=ATOL)

    stats = handle.stats.remote().result()
    assert stats["requests"] - before == N_CONCURRENT + 1
    print(f"\n{N_CONCURRENT} concurrent requests in {took:.3f} s; batches {stats['batches']}")


def test_requests_are_batched_onto_planned_sizes(deployed, reference):
    _, name, item_shape, _ = reference
    handle = deployed["handle"]
    items = _items(name, item_shape, 3, seed=2)
    before = len(handle.stats.remote().result()["batches"])
    for r in [handle.infer.remote(it) for it in items]:
        r.result(timeout_s=60)
    stats = handle.stats.remote().result()
    batches = stats["batches"]
    assert all(size in BATCH_SIZES and 1 <= n <= size for n, size in batches), batches
    # every run padded only up to the smallest planned size that holds it
    assert all(size == min(b for b in BATCH_SIZES if b >= n) for n, size in batches), batches
    assert max(n for n, _ in batches) > 1, f"no dynamic batching happened: {batches}"
    new = batches[before:]
    assert sum(n for n, _ in new) == 3, new


def test_bad_inputs_raise_through_the_handle(deployed, reference):
    sess, name, item_shape, outputs = reference
    handle = deployed["handle"]
    with pytest.raises(Exception, match="shape"):
        handle.infer.remote({name: np.zeros((3, 3), np.float32)}).result(timeout_s=60)
    with pytest.raises(Exception, match="unknown"):
        handle.infer.remote({name: np.zeros(item_shape, np.float32),
                             "nope": np.zeros(1, np.float32)}).result(timeout_s=60)
    with pytest.raises(Exception, match="missing"):
        handle.infer.remote({}).result(timeout_s=60)
    with pytest.raises(Exception, match="dtype"):
        handle.infer.remote({name: np.zeros(item_shape, np.complex64)}).result(timeout_s=60)
    # a bad request fails alone: sent with good ones, they still get their answers
    items = _items(name, item_shape, 2, seed=3)
    good = [handle.infer.remote(it) for it in items]
    bad = handle.infer.remote({name: np.zeros((2,) + item_shape, np.float32)})
    for it, r in zip(items, good):
        want = _direct(sess, outputs, it)
        np.testing.assert_allclose(r.result(timeout_s=60)[outputs[0]], want[outputs[0]],
                                   rtol=0, atol=ATOL)
    with pytest.raises(Exception, match="shape"):
        bad.result(timeout_s=60)


def _post(url, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_http_on_loopback(deployed, reference):
    sess, name, item_shape, outputs = reference
    url = deployed["url"]
    assert url.startswith(f"http://{LOOPBACK}:")
    (item,) = _items(name, item_shape, 1, seed=4)
    status, body = _post(url, {"inputs": {name: item[name].tolist()}})
    assert status == 200, body
    want = _direct(sess, outputs, item)
    for k in want:
        np.testing.assert_allclose(np.asarray(body["outputs"][k], np.float32), want[k],
                                   rtol=0, atol=ATOL)
    status, body = _post(url, {"inputs": {name: [[1.0, 2.0]]}})
    assert status == 400 and "shape" in body["error"], (status, body)
    status, body = _post(url, b"not json")
    assert status == 400 and "JSON" in body["error"], (status, body)
