#!/usr/bin/env python3
"""Writes the per-axis attribute regressions into fuzz/regressions (issue 7).

The fuzzer found a Conv whose kernel_shape had 1 value for a weight with 2 spatial dims; kiln read past the end
of the list. This writes that input (the bytes the fuzzer kept) and its siblings: for every window op, each
per-spatial-dim attribute one value too short and one too long, plus one valid control per op. The unit test
tests/unit/axis_attr_test.cpp loads every file and derives what the refusal must say from the file name:

    axis_attr-<Op>-<attribute>-<short|long>.onnx   refused, naming node '<op>_<attribute>_<short|long>',
                                                   the attribute, its length and rank 4
    axis_attr-<Op>-ok.onnx                         loads and runs

Every model has a 4-D input (2 spatial dims): an attribute needs 2 values (pads 4). For the convolutions X is
declared without a shape and W is an initializer, so only the weight's rank is known when the model is
loaded; for the pools and MaxUnpool X is a declared 4-D input; for Col2Im image_shape is an initializer.

    .venv/bin/python fuzz/make_axis_regressions.py fuzz/regressions
"""
import base64
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 22

# The input the fuzzer found (issue 7), as it reported it.
CRASH = (
    "CAoSDGJhY2tlbmQtdGVzdDqwAQo5CgF4CgFXEgF5IgRDb252KhUKDGtlcm5lbF9zaGFwZVADQAOgAQcqEQoEcGFkc0ABQAFAIUABoAEH"
    "EhxJZXN0X2Jhc2FjX2NvbnZfd2l0aF9wYWRkaW5nWhsKAXgSFgoUCAESEAoCCAEKAggBCgJIBQoCCAVaGwoBVxIWChQIARIQCgIIAwoC"
    "CAEKAggDCgIIA2IbCgF5EhYKFAgBEhAKAggBCgIIAQoCCAUKAggFQgQKABAW"
)

# The valid value of each attribute for a 2x2 window over a 3x3 image; "short" drops one value, "long" adds one.
VALID = {
    "kernel_shape": [2, 2],
    "strides": [1, 1],
    "dilations": [1, 1],
    "pads": [0, 0, 0, 0],
    "output_padding": [0, 0],
    "output_shape": [4, 4],
}


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


# Per op: its attributes under test and a function building (inputs, initializers, node inputs, outputs).
# The refused convolutions declare X without a shape (only W's rank is known at load); the controls declare it,
# so that they run.
def conv_like(op):
    def build(shaped):
        x = vi("X", TensorProto.FLOAT, [1, 1, 3, 3] if shaped else None)
        w = init("W", np.ones((1, 1, 2, 2), np.float32))
        return [x], [w], ["X", "W"], [vi("Y", TensorProto.FLOAT, None)]

    def build_integer(shaped):
        x = vi("X", TensorProto.UINT8, [1, 1, 3, 3] if shaped else None)
        w = init("W", np.ones((1, 1, 2, 2), np.uint8))
        return [x], [w], ["X", "W"], [vi("Y", TensorProto.INT32, None)]

    def build_qlinear(shaped):
        x = vi("X", TensorProto.UINT8, [1, 1, 3, 3] if shaped else None)
        inits = [init("x_scale", np.float32(1)), init("x_zp", np.uint8(0)),
                 init("W", np.ones((1, 1, 2, 2), np.uint8)), init("w_scale", np.float32(1)),
                 init("w_zp", np.uint8(0)), init("y_scale", np.float32(1)), init("y_zp", np.uint8(0))]
        return [x], inits, ["X", "x_scale", "x_zp", "W", "w_scale", "w_zp", "y_scale", "y_zp"], \
            [vi("Y", TensorProto.UINT8, None)]

    def build_deform(shaped):
        x = vi("X", TensorProto.FLOAT, [1, 1, 3, 3] if shaped else None)
        off = vi("offset", TensorProto.FLOAT, [1, 8, 2, 2] if shaped else None)
        w = init("W", np.ones((1, 1, 2, 2), np.float32))
        return [x, off], [w], ["X", "W", "offset"], [vi("Y", TensorProto.FLOAT, None)]

    builders = {"Conv": build, "ConvTranspose": build, "ConvInteger": build_integer,
                "QLinearConv": build_qlinear, "DeformConv": build_deform}
    return builders[op]


def pool_like(op):
    def build(shaped):
        x = vi("X", TensorProto.FLOAT, [1, 1, 3, 3])
        outs = [vi("Y", TensorProto.FLOAT, None)]
        return [x], [], ["X"], outs

    def build_unpool(shaped):
        x = vi("X", TensorProto.FLOAT, [1, 1, 2, 2])
        i = vi("I", TensorProto.INT64, [1, 1, 2, 2])
        return [x, i], [], ["X", "I"], [vi("Y", TensorProto.FLOAT, None)]

    return build_unpool if op == "MaxUnpool" else build


def build_col2im(shaped):
    x = vi("X", TensorProto.FLOAT, [1, 4, 4])
    inits = [init("image_shape", np.array([3, 3], np.int64)), init("block_shape", np.array([2, 2], np.int64))]
    return [x], inits, ["X", "image_shape", "block_shape"], [vi("Y", TensorProto.FLOAT, None)]


WINDOW = ["kernel_shape", "strides", "dilations", "pads"]
OPS = {
    "Conv": (conv_like("Conv"), WINDOW, {"kernel_shape"}),
    "ConvTranspose": (conv_like("ConvTranspose"), WINDOW + ["output_padding", "output_shape"], set()),
    "ConvInteger": (conv_like("ConvInteger"), WINDOW, set()),
    "QLinearConv": (conv_like("QLinearConv"), WINDOW, set()),
    "DeformConv": (conv_like("DeformConv"), WINDOW, set()),
    "MaxPool": (pool_like("MaxPool"), WINDOW, {"kernel_shape"}),
    "AveragePool": (pool_like("AveragePool"), WINDOW, {"kernel_shape"}),
    "LpPool": (pool_like("LpPool"), WINDOW, {"kernel_shape"}),
    "MaxUnpool": (pool_like("MaxUnpool"), ["kernel_shape", "strides", "pads"], {"kernel_shape"}),
    "Col2Im": (build_col2im, ["strides", "dilations", "pads"], set()),
}


def model(op, build, attrs, node_name, shaped=False):
    inputs, inits, node_inputs, outputs = build(shaped)
    node = helper.make_node(op, node_inputs, [o.name for o in outputs], name=node_name, **attrs)
    graph = helper.make_graph([node], f"axis_attr_{op}", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kiln-fuzz")
    m.ir_version = 10
    return m.SerializeToString()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "regressions")
    os.makedirs(out, exist_ok=True)
    written = 0
    with open(os.path.join(out, "crash-conv-kernel_shape-1-value-rank-4.onnx"), "wb") as f:
        f.write(base64.b64decode(CRASH))
        written += 1
    for op, (build, names, required) in OPS.items():
        base = {name: VALID[name] for name in required}
        with open(os.path.join(out, f"axis_attr-{op}-ok.onnx"), "wb") as f:
            f.write(model(op, build, base, f"{op.lower()}_ok", shaped=True))
            written += 1
        for name in names:
            for kind in ("short", "long"):
                value = VALID[name][:-1] if kind == "short" else VALID[name] + [VALID[name][-1]]
                attrs = dict(base, **{name: value})
                node_name = f"{op.lower()}_{name}_{kind}"
                with open(os.path.join(out, f"axis_attr-{op}-{name}-{kind}.onnx"), "wb") as f:
                    f.write(model(op, build, attrs, node_name))
                    written += 1
    print(f"make_axis_regressions: {written} models in {out}")


if __name__ == "__main__":
    main()
