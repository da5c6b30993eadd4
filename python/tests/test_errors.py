"""Every error case, table-driven: kiln raises the class onnxruntime raises for the same mistake (checked against
the real onnxruntime), and kiln's message names the cause."""
from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import onnxruntime as ort
import onnx
import pytest
from onnx import TensorProto, helper

import kiln
from conftest import OPSET

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
    "truncated file": ("truncated", None, ["truncated"]),
    "empty file": ("empty", None, ["empty"]),
    "no graph": ("no_graph", None, ["no graph"]),
    "unknown op": ("unknown_op", None, ["FrobnicateNotAnOp", "not an operator of ONNX's domain 'ai.onnx'",
                                        "misspelt"]),
    "unknown ai.onnx.ml op": ("unknown_ml_op", None, ["FooML", "not an operator of ONNX's domain 'ai.onnx.ml'"]),
    "op newer than the opset": ("gelu_at_17", None, ["Gelu", "first exists at opset 20", "opset 17"]),
    "op removed at the opset": ("upsample_at_11", None, ["Upsample", "removed at opset 10"]),
    "unknown custom domain": ("custom_domain", None, ["com.example.Frob", "custom operator domain"]),
    "custom domain not imported": ("custom_not_imported", None, ["com.example", "does not import domain"]),
    "no opset import": ("no_opset", None, ["does not import domain 'ai.onnx'", "opset_import"]),
    "unreleased opset": ("opset_99", None, ["opset 99", "newer than any released", "opset_version="]),
}


def one_node(node, inputs=1, opsets=(("", OPSET),)) -> onnx.ModelProto:
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ["x", "s"][:inputs]]
    graph = helper.make_graph([node], "g", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


BAD_MODELS = {
    "unknown_ml_op": lambda: one_node(helper.make_node("FooML", ["x"], ["y"], domain="ai.onnx.ml"),
                                      opsets=(("", OPSET), ("ai.onnx.ml", 3))),
    "gelu_at_17": lambda: one_node(helper.make_node("Gelu", ["x"], ["y"])),
    "upsample_at_11": lambda: one_node(helper.make_node("Upsample", ["x", "s"], ["y"]), 2, (("", 11),)),
    "custom_domain": lambda: one_node(helper.make_node("Frob", ["x"], ["y"], domain="com.example"),
                                      opsets=(("", OPSET), ("com.example", 1))),
    "custom_not_imported": lambda: one_node(helper.make_node("Frob", ["x"], ["y"], domain="com.example")),
    "no_opset": lambda: one_node(helper.make_node("Relu", ["x"], ["y"]), opsets=()),
    "opset_99": lambda: one_node(helper.make_node("Relu", ["x"], ["y"]), opsets=(("", 99),)),
}


@pytest.fixture(scope="module")
def paths(small_models, unknown_op_path, tmp_path_factory) -> Dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("errors")
    garbage = folder / "garbage.onnx"
    garbage.write_bytes(bytes(range(256)) * 8)
    out = {**small_models, "unknown_op": unknown_op_path, "garbage": garbage,
           "no_such_file": folder / "no_such_file.onnx"}
    whole = small_models["fixed"].read_bytes()
    no_graph = onnx.ModelProto(ir_version=8, opset_import=[helper.make_opsetid("", OPSET)])
    for name, data in {"truncated": whole[: len(whole) // 2], "empty": b"",
                       "no_graph": no_graph.SerializeToString(),
                       **{k: build().SerializeToString() for k, build in BAD_MODELS.items()}}.items():
        out[name] = folder / f"{name}.onnx"
        out[name].write_bytes(data)
    return out


def raised(module, paths, model, action) -> BaseException:
    try:
        s = module.InferenceSession(str(paths[model]), providers=["CPUExecutionProvider"])
        if action is not None:
            action(s)
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return e
    raise AssertionError(f"{module.__name__}: no error")


@pytest.mark.parametrize("case", list(CASES))
def test_error_class_and_message(paths, case):
    model, action, words = CASES[case]
    ours = raised(kiln, paths, model, action)
    theirs = raised(ort, paths, model, action)
    assert type(ours).__name__ == type(theirs).__name__, f"kiln: {ours!r}\nonnxruntime: {theirs!r}"
    if type(ours).__module__.startswith("kiln"):
        # Code that catches onnxruntime's classes by name finds kiln's where it looks for them.
        assert type(ours) is getattr(kiln.capi.onnxruntime_pybind11_state, type(ours).__name__)
    message = str(ours)
    for word in words:
        assert word in message, f"{case}: {word!r} not in kiln's message: {message}"


def test_standard_operators_kiln_lacks_are_not_called_unknown():
    """kiln tells a name ONNX does not define (InvalidGraph, as onnxruntime: no schema) from an ONNX operator kiln
    has no implementation of (NotImplemented, as onnxruntime when it lacks a kernel) by a list of the latter in
    src/api/op_support.cpp: every operator the onnx package defines must either load or be NotImplemented."""
    misnamed = []
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain not in ("", "ai.onnx.ml"):
            continue
        node = helper.make_node(schema.name, ["x"], ["y"], domain=schema.domain)
        m = one_node(node, opsets=(("", schema.since_version if schema.domain == "" else OPSET),
                                   ("ai.onnx.ml", schema.since_version if schema.domain else 3)))
        try:
            kiln.InferenceSession(m.SerializeToString())
        except kiln.InvalidGraph as e:
            if "at any opset" in str(e):
                misnamed.append(f"{schema.domain}:{schema.name}")
        except Exception:  # noqa: BLE001 - a node without its attributes may be refused in other ways
            pass
    assert not misnamed, f"ONNX operators kiln calls unknown names (add them to is_standard_op_kiln_lacks): {misnamed}"
