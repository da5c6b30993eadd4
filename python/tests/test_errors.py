"""Every error case, table-driven: kiln raises the class onnxruntime raises for the same mistake (checked against
the real onnxruntime), and kiln's message names the cause."""
from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import onnxruntime as ort
import pytest

import kiln

X = np.ones((2, 3), np.float32)
IMAGE = np.ones((1, 3, 4, 4), np.float32)


def load(module, paths, which):
    return lambda: module.InferenceSession(str(paths[which]), providers=["CPUExecutionProvider"])


# name: (model, what to do with the module and a loaded session (None: the load itself fails), words the
# message must contain)
CASES: Dict[str, Tuple[str, Optional[Callable[[Any], Any]], List[str]]] = {
    "wrong input name": ("add", lambda s: s.run(None, {"x": X, "why": X}), ["why", "'y'"]),
    "missing input": ("add", lambda s: s.run(None, {"x": X}), ["y"]),
    "wrong dtype": ("add", lambda s: s.run(None, {"x": X.astype(np.float64), "y": X}), ["x", "double", "float"]),
    "wrong rank": ("add", lambda s: s.run(None, {"x": X, "y": X.reshape(2, 3, 1)}), ["y", "rank", "3", "2"]),
    "wrong fixed dim": ("fixed", lambda s: s.run(None, {"image": np.ones((1, 3, 5, 4), np.float32)}),
                        ["image", "dim 2", "5", "4", "dynamic_axes"]),
    "bad output name": ("fixed", lambda s: s.run(["nope"], {"image": IMAGE}), ["nope", "relu"]),
    "missing file": ("no_such_file", None, ["no_such_file.onnx"]),
    "garbage bytes": ("garbage", None, ["not an ONNX model"]),
    "unknown op": ("unknown_op", None, ["FrobnicateNotAnOp"]),
}


@pytest.fixture(scope="module")
def paths(small_models, unknown_op_path, tmp_path_factory) -> Dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("errors")
    garbage = folder / "garbage.onnx"
    garbage.write_bytes(bytes(range(256)) * 8)
    return {**small_models, "unknown_op": unknown_op_path, "garbage": garbage,
            "no_such_file": folder / "no_such_file.onnx"}


def raised(module, paths, model, action) -> BaseException:
    try:
        s = module.InferenceSession(str(paths[model]), providers=["CPUExecutionProvider"])
        if action is not None:
            action(s)
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return e
    raise AssertionError(f"{module.__name__}: no error")


# Where kiln's class differs from onnxruntime's, on purpose: (onnxruntime's, kiln's). An operator no runtime knows
# is an invalid graph to onnxruntime (no schema is registered for it) and NotImplemented to kiln, which does not
# tell a misspelt ONNX operator from a standard one it lacks.
DIFFERENT = {"unknown op": ("InvalidGraph", "NotImplemented")}


@pytest.mark.parametrize("case", list(CASES))
def test_error_class_and_message(paths, case):
    model, action, words = CASES[case]
    ours = raised(kiln, paths, model, action)
    theirs = raised(ort, paths, model, action)
    if case in DIFFERENT:
        assert (type(theirs).__name__, type(ours).__name__) == DIFFERENT[case], f"{ours!r}\n{theirs!r}"
    else:
        assert type(ours).__name__ == type(theirs).__name__, f"kiln: {ours!r}\nonnxruntime: {theirs!r}"
    if type(ours).__module__.startswith("kiln"):
        # Code that catches onnxruntime's classes by name finds kiln's where it looks for them.
        assert type(ours) is getattr(kiln.capi.onnxruntime_pybind11_state, type(ours).__name__)
    message = str(ours)
    for word in words:
        assert word in message, f"{case}: {word!r} not in kiln's message: {message}"
