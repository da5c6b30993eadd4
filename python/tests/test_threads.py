"""Concurrent run() from 8 threads on one session gives what serial runs give."""
from __future__ import annotations

import concurrent.futures

import numpy as np

import kiln
from conftest import suite_feeds, suite_model


def test_eight_threads_on_one_session_equal_serial_runs(small_models):
    s = kiln.InferenceSession(str(small_models["matmul"]))
    rng = np.random.default_rng(7)
    feeds = [{"a": rng.standard_normal((rows, 512)).astype(np.float32)} for rows in (1, 3, 16, 64) * 6]
    serial = [s.run(None, f)[0] for f in feeds]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda f: s.run(None, f)[0], feeds))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_eight_threads_on_a_real_model():
    options = kiln.SessionOptions()
    options.intra_op_num_threads = 1
    s = kiln.InferenceSession(str(suite_model("resnet18")), options)
    feeds = [suite_feeds("resnet18", case=i % 2, seed=i) for i in range(8)]
    serial = [s.run(None, f)[0] for f in feeds]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda f: s.run(None, f)[0], feeds))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
