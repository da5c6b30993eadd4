"""Triton's model repository extension (index, load, unload) through tritonclient's HTTP and gRPC clients, and
per-model instances: executions of one model that run at once on its one Session."""
import concurrent.futures
import json
import shutil
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import start_server, stop_server, sub_repository

DELAY_MS = 500  # KILN_SERVE_TEST_RUN_DELAY_MS: each execution sleeps this long, so overlap shows in wall time


@pytest.fixture(scope="module")
def repo(model_repository):
    """A repository of its own: models are unloaded, broken and added here while the server runs."""
    return sub_repository(model_repository, "repository_api", {m: (m, None) for m in ("int64_ops", "bool_not")})


@pytest.fixture(scope="module")
def server(repo):
    s = start_server(repo)
    yield s
    stop_server(s)


def int64_infer(module, client, model="int64_ops"):
    a = np.arange(8, dtype=np.int64).reshape(2, 4)
    i = module.InferInput("a", [2, 4], "INT64")
    i.set_data_from_numpy(a)
    result = client.infer(model, [i])
    assert np.array_equal(result.as_numpy("doubled"), a * 2)


def post(server, path, body=b""):
    """POST to the HTTP port; returns (status, parsed JSON body)."""
    request = urllib.request.Request(f"http://{server.http_url}/{path}", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def states(client):
    index = client.get_model_repository_index()
    if isinstance(index, list):  # HTTP: a JSON array
        return {m["name"]: (m.get("version"), m.get("state")) for m in index}
    return {m.name: (m.version, m.state) for m in index.models}


def test_advertised_and_indexed(server):
    http = httpclient.InferenceServerClient(server.http_url)
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    assert "model_repository" in http.get_server_metadata()["extensions"]
    assert "model_repository" in grpc.get_server_metadata().extensions
    for client in (http, grpc):
        assert states(client) == {"bool_not": ("1", "READY"), "int64_ops": ("1", "READY")}


def test_unload_then_load(server):
    http = httpclient.InferenceServerClient(server.http_url)
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    http.unload_model("int64_ops")
    for client in (http, grpc):
        assert not client.is_model_ready("int64_ops")
        assert client.is_model_ready("bool_not")
        assert client.is_server_ready(), "an unload on purpose leaves the server ready (as in Triton)"
        assert states(client)["int64_ops"] == ("1", "UNLOADED")
    with pytest.raises(InferenceServerException, match=r"not loaded \(UNLOADED\).*load it with"):
        int64_infer(httpclient, http)
    status, body = post(server, "v2/repository/index", b'{"ready": true}')
    assert status == 200 and [m["name"] for m in body] == ["bool_not"]

    grpc.load_model("int64_ops")
    for module, client in ((httpclient, http), (grpcclient, grpc)):
        assert client.is_model_ready("int64_ops")
        int64_infer(module, client)
    grpc.unload_model("int64_ops")
    assert not http.is_model_ready("int64_ops")
    http.load_model("int64_ops")
    int64_infer(httpclient, http)


def test_unknown_model(server):
    http = httpclient.InferenceServerClient(server.http_url)
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    for action in ("load", "unload"):
        status, body = post(server, f"v2/repository/models/no_such_model/{action}")
        assert status == 400 and f"failed to {action} 'no_such_model'" in body["error"], body
        assert "has no such model" in body["error"]
    with pytest.raises(InferenceServerException, match="failed to load 'no_such_model'") as e:
        grpc.load_model("no_such_model")
    assert "INVALID_ARGUMENT" in str(e.value.status())
    with pytest.raises(InferenceServerException, match="failed to unload 'no_such_model'"):
        http.unload_model("no_such_model")
    # What kiln does not take is refused by name, not ignored: Triton's config override on load.
    with pytest.raises(InferenceServerException, match="repository parameter 'config' is not supported"):
        http.load_model("int64_ops", config=json.dumps({"max_batch_size": 4}))
    assert http.is_model_ready("int64_ops")


def test_broken_model_and_a_new_one(server, repo):
    http = httpclient.InferenceServerClient(server.http_url)
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    (repo / "broken").mkdir()
    (repo / "broken" / "model.onnx").write_bytes(b"this is not an ONNX model")
    for client in (http, grpc):
        with pytest.raises(InferenceServerException, match=r"failed to load 'broken': model 'broken' \(.*model.onnx\) "
                                                          r"cannot be served"):
            client.load_model("broken")
    index = http.get_model_repository_index()
    broken = next(m for m in index if m["name"] == "broken")
    assert broken["state"] == "UNAVAILABLE" and "cannot be served" in broken["reason"]
    assert not http.is_model_ready("broken")
    # The server serves on, still ready.
    assert http.is_server_ready() and grpc.is_server_ready()
    int64_infer(grpcclient, grpc)

    # A model folder added while serving is found by its load.
    shutil.copytree(repo / "int64_ops", repo / "int64_added")
    http.load_model("int64_added")
    int64_infer(httpclient, http, "int64_added")
    assert states(grpc)["int64_added"] == ("1", "READY")


@pytest.fixture(scope="module")
def instances_server(model_repository):
    path = sub_repository(model_repository, "repository_instances", {
        "int64_four": ("int64_ops", {"instances": 4}),
        "int64_one": ("int64_ops", {"instances": 1}),
        "int64_batched_two": ("int64_ops", {"instances": 2, "max_batch_size": 1, "max_queue_delay_us": 0}),
        "super_resolution_four": ("super_resolution", {"instances": 4, "threads": 1})})
    s = start_server(path, env={"KILN_SERVE_TEST_RUN_DELAY_MS": str(DELAY_MS)})
    yield s
    stop_server(s)


def concurrently(server, model, feeds, count):
    """`count` requests at once, each on its own connection; returns (wall seconds, [outputs])."""
    def one(_):
        client = grpcclient.InferenceServerClient(server.grpc_url)
        inputs = []
        for name, array in feeds.items():
            i = grpcclient.InferInput(name, list(array.shape), "INT64" if array.dtype == np.int64 else "FP32")
            i.set_data_from_numpy(array)
            inputs.append(i)
        return client.infer(model, inputs)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results = list(pool.map(one, range(count)))
    return time.monotonic() - start, results


def fastest_of_five(server, model, feeds, count):
    """concurrently(), up to five times, keeping the fastest: a machine that stops or starves this test's
    processes for a moment (a shared runner; here niced processes are stopped for seconds at a time) stretches
    one attempt, not five, while a server that runs the requests one after another is slow every time."""
    best = None
    for _ in range(5):
        wall, results = concurrently(server, model, feeds, count)
        if best is None or wall < best[0]:
            best = (wall, results)
        if wall < 1.5 * DELAY_MS / 1000:
            break
    return best


def test_instances_run_at_once(instances_server):
    a = {"a": np.arange(4, dtype=np.int64).reshape(1, 4)}
    # One instance: four runs one after another, at least 4 delays (a lower bound: never flaky).
    wall_one, _ = concurrently(instances_server, "int64_one", a, 4)
    assert wall_one >= 4 * DELAY_MS / 1000
    # Four instances: the four run at once; well under the 2 delays two rounds would take.
    wall_four, results = fastest_of_five(instances_server, "int64_four", a, 4)
    assert wall_four < 1.8 * DELAY_MS / 1000, f"4 instances took {wall_four:.2f} s for 4 runs of {DELAY_MS} ms"
    for r in results:
        assert np.array_equal(r.as_numpy("doubled"), a["a"] * 2)
    # Two batching instances (batches of 1): two batches at once.
    wall_two, results = fastest_of_five(instances_server, "int64_batched_two", a, 2)
    assert wall_two < 1.8 * DELAY_MS / 1000, f"2 batching instances took {wall_two:.2f} s for 2 batches"
    assert all(np.array_equal(r.as_numpy("negated"), -a["a"]) for r in results)


def own_thread_runs(server, model):
    """kiln_inference_own_thread_exec_count of `model`: its runs kept off the session's thread pool."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).read().decode()
    prefix = f'kiln_inference_own_thread_exec_count{{model="{model}",version="1"}} '
    return next(int(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))


def test_one_instance_runs_take_the_pool(instances_server):
    """With one instance, requests waiting for a worker cannot run beside the one running: each run takes the
    session's threads, as in-process. 8 clients against 4 gRPC workers keep requests waiting for a worker while
    runs start; the rule before let those waiting requests put every run after the first on its own thread."""
    a = {"a": np.arange(4, dtype=np.int64).reshape(1, 4)}
    before = own_thread_runs(instances_server, "int64_one")
    concurrently(instances_server, "int64_one", a, 8)
    assert own_thread_runs(instances_server, "int64_one") == before
    # The counter counts: four instances run at once, and runs beside another keep to their own threads.
    before = own_thread_runs(instances_server, "int64_four")
    concurrently(instances_server, "int64_four", a, 8)
    assert own_thread_runs(instances_server, "int64_four") > before


def test_instances_share_one_session_and_agree(instances_server):
    x = {"input": np.random.default_rng(3).standard_normal((1, 1, 32, 32)).astype(np.float32)}
    _, results = concurrently(instances_server, "super_resolution_four", x, 4)
    outputs = [r.as_numpy("output") for r in results]
    assert outputs[0].shape == (1, 1, 96, 96)
    for o in outputs[1:]:
        assert np.array_equal(o, outputs[0]), "concurrent runs on one session must give identical bits"
    _, alone = concurrently(instances_server, "super_resolution_four", x, 1)
    assert np.array_equal(alone[0].as_numpy("output"), outputs[0])


def test_unload_lets_running_requests_finish(instances_server):
    """Requests running when their model is unloaded finish on the load they started with; later ones get 503."""
    a = {"a": np.arange(4, dtype=np.int64).reshape(1, 4)}
    http = httpclient.InferenceServerClient(instances_server.http_url)
    metrics = f"http://127.0.0.1:{instances_server.metrics_port}/metrics"
    pending = 'nv_inference_pending_request_count{model="int64_four",version="1"} 2'
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(concurrently, instances_server, "int64_four", a, 2)
        deadline = time.monotonic() + 30
        while pending not in urllib.request.urlopen(metrics, timeout=10).read().decode():
            assert time.monotonic() < deadline, "the two requests never arrived"
            time.sleep(0.01)
        time.sleep(0.1)  # past taking the model's load (microseconds after counting as pending); runs last 0.5 s
        http.unload_model("int64_four")
        _, results = running.result()
    assert all(np.array_equal(r.as_numpy("doubled"), a["a"] * 2) for r in results)
    assert not http.is_model_ready("int64_four")
    with pytest.raises(InferenceServerException, match="not loaded"):
        int64_infer(httpclient, http, "int64_four")
    http.load_model("int64_four")
    assert http.is_model_ready("int64_four")
