"""Fixtures of the kiln package's tests: small ONNX models made with onnx.helper, and the model suite's real
PyTorch exports (tests/models), shared with the model tests through their cache folder."""
from __future__ import annotations

import os
import pathlib
import sys
from typing import Callable, Dict

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "models"))

OPSET = 17


def save(model: onnx.ModelProto, path: pathlib.Path) -> pathlib.Path:
    if path.stem != "meta":  # the checker wants a shape on every output; meta has one without, on purpose
        onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_model(nodes, inputs, outputs, initializers=(), opset: int = OPSET, **kwargs) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, kwargs.pop("graph_name", "g"), inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kwargs)


def add_model() -> onnx.ModelProto:
    """z = x + y with a named batch dim and an unknown dim."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", None])
    return make_model([helper.make_node("Add", ["x", "y"], ["z"])], [x, y], [z])


def fixed_model() -> onnx.ModelProto:
    """A 1x3x4x4 image through Relu, and a second output: the input doubled."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("relu", TensorProto.FLOAT, [1, 3, 4, 4])
    d = helper.make_tensor_value_info("double", TensorProto.FLOAT, [1, 3, 4, 4])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    return make_model([helper.make_node("Relu", ["image"], ["relu"]), helper.make_node("Mul", ["image", "two"], ["double"])],
                      [x], [y, d], [two])


def identity_model() -> onnx.ModelProto:
    """The output is the input (kiln may hand back a view of the feed: the result must still be its own)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    return make_model([helper.make_node("Identity", ["x"], ["y"])], [x], [y])


def matmul_model(n: int = 512) -> onnx.ModelProto:
    """a @ w, with w a constant n x n: enough work per run to see threads and the GIL."""
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, [n, n], rng.standard_normal((n, n)).astype(np.float32).ravel())
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["rows", n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", n])
    return make_model([helper.make_node("MatMul", ["a", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
                      [a], [y], [w])


def meta_model() -> onnx.ModelProto:
    """A model that fills every ModelMetadata field and has typed and untyped dims."""
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["n", 2])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)  # no shape at all
    m = make_model([helper.make_node("Neg", ["x"], ["y"])], [x], [y], producer_name="kiln-tests",
                   producer_version="7", graph_name="meta_graph")
    m.domain = "org.example"
    m.model_version = 42
    m.doc_string = "a model with metadata"
    m.graph.doc_string = "the graph's description"
    helper.set_model_props(m, {"author": "kiln", "license": "MIT"})
    return m


def unknown_op_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("FrobnicateNotAnOp", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


SMALL_MODELS: Dict[str, Callable[[], onnx.ModelProto]] = {
    "add": add_model, "fixed": fixed_model, "identity": identity_model, "matmul": matmul_model,
    "meta": meta_model,
}


@pytest.fixture(scope="session")
def small_models(tmp_path_factory) -> Dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("models")
    return {name: save(build(), folder / f"{name}.onnx") for name, build in SMALL_MODELS.items()}


@pytest.fixture(scope="session")
def unknown_op_path(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("bad") / "unknown_op.onnx"
    onnx.save(unknown_op_model(), str(path))  # not checked: the checker refuses the op too
    return path


def model_cache() -> pathlib.Path:
    return pathlib.Path(os.environ.get("KILN_MODEL_CACHE", REPO / "build" / "model-cache"))


def suite_model(name: str) -> pathlib.Path:
    """The suite's export of `name` (exported into the shared cache when missing, as the model tests do)."""
    import export_models
    return export_models.ensure_exported(name, model_cache(), log=lambda *_: None)


def suite_feeds(name: str, case: int = 0, seed: int = 1234) -> Dict[str, np.ndarray]:
    import model_zoo
    import run_model_test
    spec = model_zoo.get(name)
    return run_model_test.make_inputs(spec, spec.cases[case], np.random.default_rng(seed))


def suite_names():
    import model_zoo
    return [spec.name for spec in model_zoo.MODELS]
