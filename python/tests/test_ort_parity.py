"""What kiln answers where ONNX Runtime's answer is easy to get wrong, each case run on kiln and on the real
onnxruntime 1.32 with the same bytes: NodeArg shapes of unnamed and unknown dims, model_version, overridable and
omittable initializers, outputs of types NumPy lacks (bfloat16, float8, int4)."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import kiln


def vi(name: str, dims: Optional[Sequence[Any]], t: int = T.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, t, dims)


def model_bytes(nodes, inputs, outputs, initializers=(), opset: int = 17, ir_version: Optional[int] = None,
                **fields: Any) -> bytes:
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(initializers)),
                          opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        m.ir_version = ir_version
    for k, v in fields.items():
        setattr(m, k, v)
    return m.SerializeToString()


def both(data: bytes) -> Tuple[Any, Any]:
    return (kiln.InferenceSession(data, providers=["CPUExecutionProvider"]),
            ort.InferenceSession(data, providers=["CPUExecutionProvider"]))


def node_args(s) -> List[Tuple[str, str, list]]:
    return [(a.name, a.type, a.shape) for a in s.get_inputs() + s.get_outputs()]


def relu(x, y):
    return model_bytes([helper.make_node("Relu", ["x"], ["y"])], [x], [y])


def two_in(op: str, a, b, t: int = T.FLOAT, **attrs):
    return model_bytes([helper.make_node(op, ["a", "b"], ["y"], **attrs)], [vi("a", a, t), vi("b", b, t)],
                       [vi("y", None, t)])


# name: the model, and what onnxruntime reports for its inputs then outputs (so a case shows the answer it checks)
SHAPES: Dict[str, Tuple[Callable[[], bytes], List[list]]] = {
    "dims with neither value nor name": (lambda: relu(vi("x", [None, 3, None]), vi("y", [None, None, None])),
                                         [[None, 3, None], [None, 3, None]]),
    "empty dim_param": (lambda: relu(vi("x", ["", 3]), vi("y", None)), [[None, 3], [None, 3]]),
    "negative dim_value": (lambda: relu(vi("x", [-1, 3]), vi("y", None)), [[None, 3], [None, 3]]),
    "unknown rank": (lambda: relu(vi("x", None), vi("y", None)), [[], []]),
    "output shape from inference": (lambda: relu(vi("x", ["batch", 3]), vi("y", None)),
                                    [["batch", 3], ["batch", 3]]),
    "NonZero: data-dependent dim": (
        lambda: model_bytes([helper.make_node("NonZero", ["x"], ["y"])], [vi("x", ["n", 3])],
                            [vi("y", [None, None], T.INT64)]), [["n", 3], [2, None]]),
    "Concat of two names": (lambda: two_in("Concat", ["n", 3], ["m", 3], axis=0), [["n", 3], ["m", 3], [None, 3]]),
    "broadcast of 1 and a name": (lambda: two_in("Add", ["a", 1], [1, "b"]), [["a", 1], [1, "b"], ["a", "b"]]),
    "broadcast of two names": (lambda: two_in("Add", ["a", "c"], ["b", "c"]), [["a", "c"], ["b", "c"], [None, "c"]]),
    "broadcast of unknowns": (lambda: two_in("Add", [None, 1], [1, None]), [[None, 1], [1, None], [None, None]]),
    "MatMul": (lambda: two_in("MatMul", [None, "k"], ["k", None]), [[None, "k"], ["k", None], [None, None]]),
    "Shape of unknown rank": (
        lambda: model_bytes([helper.make_node("Shape", ["x"], ["y"])], [vi("x", None)], [vi("y", None, T.INT64)]),
        [[], [None]]),
}


@pytest.mark.parametrize("case", list(SHAPES))
def test_node_arg_shapes(case):
    build, expected = SHAPES[case]
    k, o = both(build())
    assert [a[2] for a in node_args(o)] == expected  # the table says what onnxruntime reports
    assert node_args(k) == node_args(o)


def test_node_arg_shapes_of_torch_exports(tmp_path):
    """torch.onnx.export names every dim it makes dynamic (dynamic_axes as a list: 'x_dynamic_axes_1'), and the
    outputs' dims come from its own inference ('Concatz_dim_0'): kiln reports each as onnxruntime does."""
    torch = pytest.importorskip("torch")

    class M(torch.nn.Module):
        def forward(self, x, y):
            return (x + 1).sum(dim=1), torch.cat([x, y], dim=0), x.reshape(x.shape[0], -1)

    args = (torch.randn(2, 3, 4), torch.randn(5, 3, 4))
    for axes in ({"x": [0, 2], "y": [0]}, {"x": {0: "batch"}, "y": {0: "n"}, "o0": [0]}, None):
        path = tmp_path / "m.onnx"
        torch.onnx.export(M(), args, str(path), input_names=["x", "y"], output_names=["o0", "o1", "o2"],
                          dynamic_axes=axes, opset_version=17)
        k, o = both(path.read_bytes())
        assert node_args(k) == node_args(o), axes


@pytest.mark.parametrize("version", [None, 0, 1, 42, -5, 2**63 - 1])
def test_model_version(version):
    """Not set in the file: INT64_MAX; set, even to 0: the value."""
    fields = {} if version is None else {"model_version": version}
    k, o = both(model_bytes([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], **fields))
    assert o.get_modelmeta().version == (2**63 - 1 if version is None else version)
    assert k.get_modelmeta().version == o.get_modelmeta().version


# --- initializers that are graph inputs -----------------------------------------------------------------------

def with_initializer(ir_version: int, listed_as_input: bool) -> bytes:
    """y = x + 2 * w, w an initializer [1, 2, 3] (2 * w is what constant folding would fold)."""
    w = numpy_helper.from_array(np.array([1, 2, 3], np.float32), "w")
    two = numpy_helper.from_array(np.array(2, np.float32), "two")
    inputs = [vi("x", ["n", 3])] + ([vi("w", [3])] if listed_as_input else [])
    return model_bytes([helper.make_node("Mul", ["w", "two"], ["w2"]), helper.make_node("Add", ["x", "w2"], ["y"])],
                       inputs, [vi("y", ["n", 3])], [w, two], opset=9, ir_version=ir_version)


X = np.zeros((2, 3), np.float32)
FEEDS: Dict[str, Dict[str, np.ndarray]] = {
    "w omitted": {"x": X},
    "w overridden": {"x": X, "w": np.full(3, 10, np.float32)},
    "w of another size": {"x": X, "w": np.full(4, 10, np.float32)},
    "w of another dtype": {"x": X, "w": np.full(3, 10, np.float64)},
}


def outcome(session, feed) -> Any:
    try:
        return session.run(None, feed)[0].tolist()
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__


@pytest.mark.parametrize("ir_version", [3, 4, 8])
@pytest.mark.parametrize("listed_as_input", [False, True], ids=["initializer only", "also a graph input"])
@pytest.mark.parametrize("feed", list(FEEDS))
def test_initializers_overridden_and_omitted(ir_version, listed_as_input, feed):
    """An initializer listed as a graph input may be left out (its value is the default) or, from IR version 4 on,
    fed to replace it (below 4 ONNX required every initializer among the inputs, so ONNX Runtime treats them as
    constants and refuses the feed); an initializer not listed is never an input."""
    k, o = both(with_initializer(ir_version, listed_as_input))
    assert node_args(k) == node_args(o)
    overridable = [(a.name, a.type, a.shape) for a in o.get_overridable_initializers()]
    assert overridable == ([("w", "tensor(float)", [3])] if listed_as_input and ir_version >= 4 else [])
    assert [(a.name, a.type, a.shape) for a in k.get_overridable_initializers()] == overridable
    got, want = outcome(k, FEEDS[feed]), outcome(o, FEEDS[feed])
    assert got == want
    if feed == "w overridden" and listed_as_input and ir_version >= 4:
        assert want == [[20.0] * 3] * 2  # the feed replaced w, and 2 * w was not folded with the old value


def test_a_refused_initializer_feed_names_it():
    k = kiln.InferenceSession(with_initializer(3, True))
    with pytest.raises(kiln.InvalidArgument, match=r"'w' is an initializer.*IR version 3"):
        k.run(None, FEEDS["w overridden"])


# --- outputs of types NumPy lacks ----------------------------------------------------------------------------

CAST_TO = ["FLOAT16", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "INT4", "UINT4"]


@pytest.mark.parametrize("type_name", CAST_TO)
def test_outputs_numpy_lacks_a_type_for(type_name):
    """onnxruntime returns float8e4m3fn as its bytes (uint8) and raises RuntimeError ("No corresponding Numpy type")
    for bfloat16, the other float8s and int4; kiln does the same, its message saying what to do."""
    t = getattr(T, type_name)
    data = model_bytes([helper.make_node("Cast", ["x"], ["y"], to=t)], [vi("x", [4])], [vi("y", [4], t)], opset=21)
    k, o = both(data)
    assert node_args(k) == node_args(o)
    x = {"x": np.array([1.0, -2.5, 0.1, 300.0], np.float32)}
    try:
        want = o.run(None, x)[0]
    except RuntimeError as e:
        assert "No corresponding Numpy type" in str(e)
        with pytest.raises(RuntimeError, match="No corresponding Numpy type") as got:
            k.run(None, x)
        assert type(got.value) is RuntimeError and "Cast it to float" in str(got.value)
        return
    got = k.run(None, x)[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
