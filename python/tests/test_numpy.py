"""Feeds and results: zero-copy feeds, no dtype conversion, results that own their memory, the GIL released."""
from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

import kiln
from kiln import _kiln


def test_c_contiguous_feed_is_viewed_in_place(small_models):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    [(name, address)] = _kiln.feed_addresses([("x", x)])
    assert address == x.ctypes.data  # the tensor kiln runs on is the array's own memory


def test_read_only_and_sliced_rows_are_viewed_in_place():
    base = np.arange(30, dtype=np.float32).reshape(10, 3)
    rows = base[2:6]  # C-contiguous: a view into base
    rows.flags.writeable = False
    [(_, address)] = _kiln.feed_addresses([("x", rows)])
    assert address == rows.ctypes.data
    assert np.shares_memory(rows, base)


def test_non_contiguous_feed_is_copied_in_its_own_dtype(small_models):
    s = kiln.InferenceSession(str(small_models["add"]))
    x = np.arange(12, dtype=np.float32).reshape(3, 4)[:, :3]  # strided
    assert not x.flags.c_contiguous
    [(_, address)] = _kiln.feed_addresses([("x", x)])
    assert address != x.ctypes.data
    y = np.ones((3, 3), np.float32)
    np.testing.assert_array_equal(s.run(None, {"x": x, "y": y})[0], x + 1)
    xt = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(s.run(None, {"x": xt, "y": np.zeros((2, 3), np.float32)})[0], xt)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64])
def test_other_dtypes_are_refused_not_converted(small_models, dtype):
    s = kiln.InferenceSession(str(small_models["add"]))
    x = np.ones((2, 3), dtype=dtype)
    with pytest.raises(kiln.InvalidArgument) as e:
        s.run(None, {"x": x, "y": np.ones((2, 3), np.float32)})
    msg = str(e.value)
    onnx_name = {"float64": "double", "float16": "float16", "int32": "int32", "int64": "int64"}[np.dtype(dtype).name]
    assert "'x'" in msg and onnx_name in msg and "float" in msg, msg


def test_results_own_their_memory(small_models):
    s = kiln.InferenceSession(str(small_models["fixed"]))
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32)
    relu, double = s.run(None, {"image": x})
    assert relu.base is not None  # kept alive by a capsule that owns kiln's tensor
    del s
    gc.collect()
    np.testing.assert_array_equal(relu, np.maximum(x, 0))
    np.testing.assert_array_equal(double, 2 * x)
    relu[...] = 7  # writable, and no one else's
    assert float(relu.sum()) == 7 * relu.size


def test_identity_result_is_not_the_feed(small_models):
    s = kiln.InferenceSession(str(small_models["identity"]))
    x = np.arange(5, dtype=np.float32)
    [y] = s.run(None, {"x": x})
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(x, y)
    x[0] = 100
    assert y[0] == 0


def test_lists_and_scalars_become_arrays_of_the_declared_dtype(small_models):
    s = kiln.InferenceSession(str(small_models["add"]))
    [z] = s.run(None, {"x": [[1, 2, 3]], "y": [[0.5, 0.5, 0.5]]})
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, [[1.5, 2.5, 3.5]])


def test_gil_is_released_during_run(small_models):
    s = kiln.InferenceSession(str(small_models["matmul"]))
    a = np.random.default_rng(0).standard_normal((4096, 512)).astype(np.float32)  # ~2 GFLOP per run
    s.run(None, {"a": a})  # plan built
    ticks = 0
    started = threading.Event()
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        started.set()
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=count)
    t.start()
    started.wait()
    before = ticks
    run_start = time.perf_counter()
    s.run(None, {"a": a})  # one call: with the GIL held, the counting thread could not run at all during it
    run_time = time.perf_counter() - run_start
    during = ticks - before
    stop.set()
    t.join()
    assert during > 1000, f"the other thread counted {during} times during one {run_time:.3f} s run"


def test_torch_tensors_keep_their_dtype(small_models):
    torch = pytest.importorskip("torch")
    s = kiln.InferenceSession(str(small_models["add"]))
    x = torch.ones(2, 3)
    np.testing.assert_array_equal(s.run(None, {"x": x, "y": x})[0], np.full((2, 3), 2, np.float32))
    with pytest.raises(kiln.InvalidArgument, match="double"):
        s.run(None, {"x": x.double(), "y": x})
