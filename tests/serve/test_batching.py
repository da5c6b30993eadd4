"""Dynamic batching (config.json max_batch_size, max_queue_delay_us, max_queue_size): concurrent requests share
executions and each gets the outputs it would get alone; a full queue answers 503.

Bit-identical outputs are asserted for a model of exact integer ops. For the convolution model they are
asserted within 1e-5: kiln's convolution picks its tactic per run from the sizes, batch included, so a batch of
16 can sum in another order than a batch of 1 (measured: max abs difference 2.3e-6 on super_resolution)."""
import concurrent.futures
import json
import time
import urllib.error
import urllib.request

import numpy as np
import tritonclient.http as httpclient

from test_operations import scrape


def infer_one(url, model, name, output, x):
    client = httpclient.InferenceServerClient(url, network_timeout=120)
    i = httpclient.InferInput(name, list(x.shape), httpclient.np_to_triton_dtype(x.dtype))
    i.set_data_from_numpy(x)
    return client.infer(model, [i]).as_numpy(output)


def concurrently(server, model, name, output, xs):
    """The 16 requests at once; returns their outputs and the executions and inferences the metrics counted."""
    before = scrape(server)
    with concurrent.futures.ThreadPoolExecutor(len(xs)) as pool:
        outs = list(pool.map(lambda x: infer_one(server.http_url, model, name, output, x), xs))
    after = scrape(server)
    delta = {f: after[(f, model)] - before.get((f, model), 0) for f in ("nv_inference_exec_count", "nv_inference_count")}
    assert delta["nv_inference_count"] == len(xs)
    assert delta["nv_inference_exec_count"] < len(xs), f"{delta}: nothing was batched"
    assert after[("nv_inference_queue_duration_us", model)] > 0
    return outs


def test_sixteen_int64_requests_batched_bit_identical(server):
    rng = np.random.default_rng(5)
    xs = [rng.integers(-2**40, 2**40, size=(1, 4), dtype=np.int64) for _ in range(16)]
    alone = [infer_one(server.http_url, "int64_ops", "a", "negated", x) for x in xs]
    batched = concurrently(server, "int64_batched", "a", "negated", xs)
    for a, b in zip(alone, batched):
        np.testing.assert_array_equal(a, b)


def test_sixteen_conv_requests_batched(server):
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((1, 1, 40, 48)).astype(np.float32) for _ in range(16)]
    alone = [infer_one(server.http_url, "super_resolution", "input", "output", x) for x in xs]
    batched = concurrently(server, "super_resolution_batched", "input", "output", xs)
    for a, b in zip(alone, batched):
        assert a.shape == b.shape == (1, 1, 120, 144)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)


def post_int64(server, rows):
    body = json.dumps({"inputs": [{"name": "a", "shape": [len(rows), 4], "datatype": "INT64", "data": rows}]})
    request = urllib.request.Request(f"http://{server.http_url}/v2/models/int64_short_queue/infer",
                                     data=body.encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_full_queue_is_503_and_batch_limits(server):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(post_int64, server, [[k, k, k, k]]) for k in (1, 2)]
        time.sleep(0.2)  # both queued: two rows of the four a batch waits 0.6 s for
        status, body = post_int64(server, [[3, 3, 3, 3]])
        assert status == 503 and "max_queue_size" in body["error"]
        for k, f in zip((1, 2), waiting):
            status, body = f.result()
            assert status == 200 and body["outputs"][0]["data"] == [2 * k] * 4
    status, body = post_int64(server, [[1, 1, 1, 1]] * 5)
    assert status == 400 and "max_batch_size" in body["error"]
