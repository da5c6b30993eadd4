"""OrtValue and IOBinding as CPU-only code uses them: each scenario runs unchanged on kiln and on onnxruntime (the
module is the parameter) and both must give the same results and raise the same classes."""
from __future__ import annotations

import types
from typing import Any, Callable, Dict, List

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import kiln
from conftest import OPSET


@pytest.fixture(scope="module")
def add_sub(tmp_path_factory) -> str:
    """z = x + y, d = x - y, dims ["batch", 3]."""
    v = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 3]) for n in ("x", "y", "z", "d")]
    graph = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"]), helper.make_node("Sub", ["x", "y"], ["d"])],
                              "g", v[:2], v[2:])
    path = tmp_path_factory.mktemp("iobinding") / "add_sub.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), str(path))
    return str(path)


def A() -> np.ndarray:
    return np.arange(6, dtype=np.float32).reshape(2, 3)


def B() -> np.ndarray:
    return np.full((2, 3), 2, np.float32)


def outputs_by_array(rt, s):
    io = s.io_binding()
    io.bind_cpu_input("x", A())
    io.bind_cpu_input("y", B())
    io.bind_output("d")
    io.bind_output("z")
    s.run_with_iobinding(io)
    values = io.get_outputs()
    return ([v.tolist() for v in io.copy_outputs_to_cpu()],
            [(v.shape(), v.data_type(), v.element_type(), v.device_name(), v.numpy().tolist()) for v in values])


def input_by_pointer(rt, s):
    a, b = A(), B()
    io = s.io_binding()
    io.bind_input("x", "cpu", 0, np.float32, list(a.shape), a.ctypes.data)
    io.bind_input("y", "cpu", 0, TensorProto.FLOAT, list(b.shape), b.ctypes.data)  # an ONNX type number works too
    io.bind_output("z")
    s.run_with_iobinding(io)
    first = io.copy_outputs_to_cpu()[0].tolist()
    a[:] = 100  # bound memory is read at every run
    s.run_with_iobinding(io)
    return first, io.copy_outputs_to_cpu()[0].tolist()


def output_into_pointer(rt, s):
    out = np.zeros((2, 3), np.float32)
    io = s.io_binding()
    io.bind_cpu_input("x", A())
    io.bind_cpu_input("y", B())
    io.bind_output("z", "cpu", 0, np.float32, [2, 3], out.ctypes.data)
    s.run_with_iobinding(io)
    return out.tolist(), len(io.get_outputs())


def output_into_ortvalue(rt, s):
    a = A()
    z = rt.OrtValue.ortvalue_from_shape_and_type([2, 3], np.float32)
    io = s.io_binding()
    io.bind_ortvalue_input("x", rt.OrtValue.ortvalue_from_numpy(a))
    io.bind_cpu_input("y", B())
    io.bind_ortvalue_output("z", z)
    s.run_with_iobinding(io)
    first = z.numpy().tolist()
    a += 1
    s.run_with_iobinding(io)
    return first, z.numpy().tolist(), np.shares_memory(io.get_outputs()[0].numpy(), z.numpy())


def ortvalue_basics(rt, s):
    a = A()
    v = rt.OrtValue.ortvalue_from_numpy(a)
    a[0, 0] = 7  # the OrtValue shares the array's memory
    made = rt.OrtValue.ortvalue_from_shape_and_type([4], np.int64)
    by_number = rt.OrtValue.ortvalue_from_shape_and_type([1, 2], TensorProto.DOUBLE)
    v.update_inplace(np.ones((2, 3), np.float32) * 3)
    return (v.shape(), v.data_type(), v.element_type(), v.device_name(), v.is_tensor(), v.has_value(),
            v.tensor_size_in_bytes(), v.data_ptr() == a.ctypes.data, a.tolist(), v.numpy().tolist(),
            made.shape(), made.data_type(), by_number.data_type(), by_number.element_type())


def run_with_ort_values(rt, s):
    feeds = {"x": rt.OrtValue.ortvalue_from_numpy(A()), "y": rt.OrtValue.ortvalue_from_numpy(B())}
    named = s.run_with_ort_values(["z"], feeds)
    every = s.run_with_ort_values(None, feeds)
    return [v.numpy().tolist() for v in named], [v.numpy().tolist() for v in every]


def run_takes_ortvalues(rt, s):
    return s.run(["z"], {"x": rt.OrtValue.ortvalue_from_numpy(A()), "y": B()})[0].tolist()


def ort_values(**arrays: np.ndarray) -> Callable[[Any], Dict[str, Any]]:
    return lambda rt: {name: rt.OrtValue.ortvalue_from_numpy(a) for name, a in arrays.items()}


def rebinding(rt, s):
    io = s.io_binding()
    io.bind_cpu_input("x", A())
    io.bind_cpu_input("y", B())
    io.bind_output("z")
    s.run_with_iobinding(io)
    io.clear_binding_outputs()
    io.bind_output("d")
    io.clear_binding_inputs()
    io.bind_cpu_input("x", np.ones((1, 3), np.float32))  # another batch size
    io.bind_cpu_input("y", np.ones((1, 3), np.float32))
    io.synchronize_inputs()
    s.run_with_iobinding(io)
    io.synchronize_outputs()
    return io.copy_outputs_to_cpu()[0].tolist()


def error(what: Callable[[Any, Any], Any]) -> Callable[[Any, Any], str]:
    def run(rt, s) -> str:
        try:
            what(rt, s)
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            return type(e).__name__
        return "no error"
    return run


def bound(*names: str) -> Callable[[Any, Any], Any]:
    def run(rt, s):
        io = s.io_binding()
        for n in names:
            io.bind_cpu_input(n, A())
        io.bind_output("z")
        s.run_with_iobinding(io)
    return run


def no_outputs(rt, s):
    io = s.io_binding()
    io.bind_cpu_input("x", A())
    io.bind_cpu_input("y", B())
    s.run_with_iobinding(io)


def output_memory_of_wrong_shape(rt, s):
    io = s.io_binding()
    io.bind_cpu_input("x", A())
    io.bind_cpu_input("y", B())
    wrong = np.zeros((3, 3), np.float32)
    io.bind_output("z", "cpu", 0, np.float32, [3, 3], wrong.ctypes.data)
    s.run_with_iobinding(io)


def buffer_without_shape(rt, s):
    s.io_binding().bind_output("z", "cpu", 0, None, None, np.zeros(6, np.float32).ctypes.data)


SCENARIOS: Dict[str, Callable[[Any, Any], Any]] = {
    "outputs by array": outputs_by_array,
    "input by pointer": input_by_pointer,
    "output into pointer": output_into_pointer,
    "output into OrtValue": output_into_ortvalue,
    "OrtValue basics": ortvalue_basics,
    "run_with_ort_values": run_with_ort_values,
    "rebinding": rebinding,
    "run takes OrtValues": run_takes_ortvalues,
    "error: run_with_ort_values, wrong dtype": error(
        lambda rt, s: s.run_with_ort_values(["z"], ort_values(x=A().astype(np.float64), y=B())(rt))),
    "error: run_with_ort_values, an input missing": error(
        lambda rt, s: s.run_with_ort_values(["z"], ort_values(x=A())(rt))),
    "error: run_with_ort_values, unknown output": error(
        lambda rt, s: s.run_with_ort_values(["nope"], ort_values(x=A(), y=B())(rt))),
    "error: an input not bound": error(bound("x")),
    "error: an unknown input name": error(bound("x", "y", "nope")),
    "error: no output bound": error(no_outputs),
    "error: output memory of the wrong shape": error(output_memory_of_wrong_shape),
    "error: memory without shape": error(buffer_without_shape),
    "error: a device kiln lacks": error(lambda rt, s: rt.OrtValue.ortvalue_from_numpy(A(), "cuda", 0)),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_iobinding_as_onnxruntime(add_sub, scenario):
    def session(rt: types.ModuleType):
        return rt.InferenceSession(add_sub, providers=["CPUExecutionProvider"])
    got = SCENARIOS[scenario](kiln, session(kiln))
    want = SCENARIOS[scenario](ort, session(ort))
    assert got == want
    if scenario.startswith("error"):
        assert want != "no error"


def test_iobinding_reads_bound_arrays_in_place(add_sub):
    s = kiln.InferenceSession(add_sub)
    a = A()
    io = s.io_binding()
    io.bind_cpu_input("x", a)
    io.bind_cpu_input("y", B())
    io.bind_output("z")
    addresses = kiln._kiln.feed_addresses(list(io._inputs.items()))
    assert dict(addresses)["x"] == a.ctypes.data
    s.run_with_iobinding(io)
    np.testing.assert_array_equal(io.copy_outputs_to_cpu()[0], a + 2)
