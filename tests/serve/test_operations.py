"""Operating the server: Prometheus metrics in Triton's names, readiness false until every model is loaded, and
SIGTERM finishing the requests already received before exiting 0."""
import concurrent.futures
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from conftest import REPO, start_server, stop_server

FAMILIES = ["nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
            "nv_inference_exec_count", "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
            "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us",
            "nv_inference_compute_output_duration_us", "nv_inference_pending_request_count"]


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def scrape(server) -> dict:
    status, body = get(f"http://127.0.0.1:{server.metrics_port}/metrics")
    assert status == 200
    values = {}
    for line in body.decode().splitlines():
        m = re.match(r'^(\w+)\{model="([^"]*)",version="([^"]*)"\} (\d+)$', line)
        if m:
            values[(m.group(1), m.group(2))] = int(m.group(4))
    return values


def int64_infer(client, data):
    i = httpclient.InferInput("a", [1, 4], "INT64")
    i.set_data_from_numpy(np.array([data], dtype=np.int64))
    return client.infer("int64_ops", [i])


def test_metrics_count_requests(server):
    before = scrape(server)
    for f in FAMILIES:
        assert (f, "int64_ops") in before, f
    client = httpclient.InferenceServerClient(server.http_url)
    for k in range(3):
        int64_infer(client, [k, 1, 2, 3])
    status, _ = get(f"http://{server.http_url}/v2/models/int64_ops/versions/1/ready")
    assert status == 200
    bad = urllib.request.Request(f"http://{server.http_url}/v2/models/int64_ops/infer", data=b'{"inputs": []}')
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(bad, timeout=30)
    after = scrape(server)
    delta = {k: after[k] - before.get(k, 0) for k in after}
    assert delta[("nv_inference_request_success", "int64_ops")] == 3
    assert delta[("nv_inference_request_failure", "int64_ops")] == 1
    assert delta[("nv_inference_count", "int64_ops")] == 3
    assert delta[("nv_inference_exec_count", "int64_ops")] == 3
    assert delta[("nv_inference_request_duration_us", "int64_ops")] > 0
    assert after[("nv_inference_pending_request_count", "int64_ops")] == 0
    status, body = get(f"http://127.0.0.1:{server.metrics_port}/v2/health/live")
    assert status == 404 and b"/metrics" in body


def test_not_ready_until_models_loaded(model_repository):
    s = start_server(model_repository, wait_ready=False, env={"KILN_SERVE_TEST_LOAD_DELAY_MS": "400"})
    try:
        assert get(f"http://{s.http_url}/v2/health/live")[0] == 200
        assert get(f"http://{s.http_url}/v2/health/ready")[0] == 503
        status, body = get(f"http://{s.http_url}/v2/models/super_resolution")
        assert status == 503 and b"still loading" in body
        assert not grpcclient.InferenceServerClient(s.grpc_url).is_server_ready()
        assert not httpclient.InferenceServerClient(s.http_url).is_model_ready("super_resolution")
        for line in s.process.stdout:
            if line.strip() == "kiln serve: ready":
                break
        assert get(f"http://{s.http_url}/v2/health/ready")[0] == 200
        assert httpclient.InferenceServerClient(s.http_url).is_model_ready("super_resolution")
    finally:
        stop_server(s)


def test_sigterm_finishes_requests_in_flight(model_repository):
    # Each execution sleeps 100 ms (test-only), so 16 HTTP requests on 2 workers take at least 0.8 s however fast
    # the machine runs the model: a fixed sleep before SIGTERM raced the model's speed and lost on a fast CPU.
    s = start_server(model_repository, "--http-threads", "2", env={"KILN_SERVE_TEST_RUN_DELAY_MS": "100"})
    x = np.random.default_rng(3).standard_normal((1, 1, 192, 192)).astype(np.float32)

    def http_call(_):
        c = httpclient.InferenceServerClient(s.http_url, connection_timeout=120, network_timeout=120)
        i = httpclient.InferInput("input", list(x.shape), "FP32")
        i.set_data_from_numpy(x)
        return c.infer("super_resolution", [i]).as_numpy("output")

    def grpc_call(_):
        c = grpcclient.InferenceServerClient(s.grpc_url)
        i = grpcclient.InferInput("input", list(x.shape), "FP32")
        i.set_data_from_numpy(x)
        return c.infer("super_resolution", [i], client_timeout=120).as_numpy("output")

    expected = http_call(0)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(http_call, k) for k in range(16)] + [pool.submit(grpc_call, k) for k in range(4)]
        deadline = time.monotonic() + 30
        while scrape(s)[("nv_inference_pending_request_count", "super_resolution")] < 2:
            assert time.monotonic() < deadline, "the requests never reached the model"
            time.sleep(0.01)
        time.sleep(0.1)  # the rest sent; two HTTP threads leave most of them waiting to be answered
        assert not all(f.done() for f in futures), "the requests finished before SIGTERM; make them slower"
        # Inference runs on the HTTP workers, never on the threads reading the sockets: with both workers busy
        # and requests waiting, liveness still answers at once.
        live_start = time.monotonic()
        assert get(f"http://{s.http_url}/v2/health/live")[0] == 200
        assert time.monotonic() - live_start < 1.0
        start = time.monotonic()
        stop_server(s)  # SIGTERM, then asserts exit code 0
        results = [f.result() for f in futures]
    for r in results:
        np.testing.assert_array_equal(r, expected)
    assert time.monotonic() - start < 30
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.http_port), timeout=2).close()


def test_grpc_threads_bound_the_runs_at_once(model_repository):
    # --grpc-threads 2: two gRPC inferences at a time, the rest wait for a worker. Each execution sleeps 100 ms
    # (test-only), so 6 calls take at least three sleeps, and the pending count (requests inside the model) never
    # passes 2; with gRPC's former fixed 16 workers all 6 ran at once.
    s = start_server(model_repository, "--grpc-threads", "2", env={"KILN_SERVE_TEST_RUN_DELAY_MS": "100"})
    try:
        x = np.random.default_rng(4).standard_normal((1, 1, 16, 16)).astype(np.float32)

        def grpc_call(_):
            c = grpcclient.InferenceServerClient(s.grpc_url)
            i = grpcclient.InferInput("input", list(x.shape), "FP32")
            i.set_data_from_numpy(x)
            return c.infer("super_resolution", [i], client_timeout=120).as_numpy("output")

        expected = grpc_call(0)
        most = 0
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(grpc_call, k) for k in range(6)]
            while not all(f.done() for f in futures):
                most = max(most, scrape(s)[("nv_inference_pending_request_count", "super_resolution")])
                time.sleep(0.01)
            results = [f.result() for f in futures]
        assert time.monotonic() - start >= 0.3
        assert 1 <= most <= 2
        for r in results:
            np.testing.assert_array_equal(r, expected)
    finally:
        stop_server(s)


def test_debug_log_one_json_line_per_request(model_repository):
    s = start_server(model_repository, "--log-level", "debug")
    try:
        client = httpclient.InferenceServerClient(s.http_url)
        int64_infer(client, [1, 2, 3, 4])
        i = grpcclient.InferInput("a", [1, 4], "INT64")
        i.set_data_from_numpy(np.array([[5, 6, 7, 8]], dtype=np.int64))
        grpcclient.InferenceServerClient(s.grpc_url).infer("int64_ops", [i])
        assert get(f"http://{s.http_url}/v2/models/no_such_model")[0] == 404
    finally:
        out = stop_server(s)
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    http_infer = [r for r in records if r["transport"] == "http" and r["target"] == "/v2/models/int64_ops/infer"]
    assert len(http_infer) == 1 and http_infer[0]["status"] == 200 and http_infer[0]["method"] == "POST"
    assert http_infer[0]["bytes_in"] > 0 and http_infer[0]["bytes_out"] > 0
    grpc_infer = [r for r in records if r["transport"] == "grpc"]
    assert len(grpc_infer) == 1 and grpc_infer[0]["target"] == "int64_ops" and grpc_infer[0]["status"] == 0
    assert any(r["status"] == 404 and r["target"] == "/v2/models/no_such_model" for r in records)
    for r in records:
        assert set(r) == {"time_us", "transport", "method", "target", "status", "bytes_in", "bytes_out",
                          "duration_us"}


def run_serve_expecting_failure(repo):
    from conftest import KILN
    done = subprocess.run([str(KILN), "serve", str(repo), "--http-port", "0", "--grpc-port", "0",
                           "--metrics-port", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr


def test_repository_mistakes_stop_the_server_with_their_name(tmp_path, model_repository):
    fixed = tmp_path / "fixed" / "fp16_double"
    fixed.mkdir(parents=True)
    shutil.copy(model_repository / "fp16_double" / "model.onnx", fixed / "model.onnx")
    (fixed / "config.json").write_text('{"max_batch_size": 4}')
    assert "first dim to be variable" in run_serve_expecting_failure(tmp_path / "fixed")
    broken = tmp_path / "broken" / "model_a"
    broken.mkdir(parents=True)
    (broken / "model.onnx").write_bytes(b"not an onnx model")
    assert "model 'model_a'" in run_serve_expecting_failure(tmp_path / "broken")
    typo = tmp_path / "typo" / "model_b"
    typo.mkdir(parents=True)
    shutil.copy(REPO / "models" / "super_resolution.onnx", typo / "model.onnx")
    (typo / "config.json").write_text('{"max_batch_sise": 4}')
    assert 'unknown key "max_batch_sise"' in run_serve_expecting_failure(tmp_path / "typo")
    (typo / "config.json").write_text('{"max_batch_size": 4}')
    shutil.copy(REPO / "models" / "super_resolution.onnx", typo / "second.onnx")
    assert "holds 2 .onnx files" in run_serve_expecting_failure(tmp_path / "typo")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no model" in run_serve_expecting_failure(empty)
