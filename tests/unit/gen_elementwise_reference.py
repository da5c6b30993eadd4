#!/usr/bin/env python3
"""Generates the elementwise op tests whose expected values come from onnx's reference implementation
(onnx.reference.ReferenceEvaluator, numpy underneath), or from onnxruntime where noted.

    .venv/bin/python tests/unit/gen_elementwise_reference.py     # rewrites tests/unit/elementwise_ref_*_test.cpp

Each case is one node run on small inputs; the script computes the outputs with the reference and writes a
gtest that runs kiln on the same inputs and compares (tests/unit/elementwise_test_util.h: exact for
integers, bools and strings, an ulp-scale tolerance for floats, NaN equal to NaN).
"""
import os

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240611)
BF16 = ml_dtypes.bfloat16


def rnd(shape, dtype=np.float32, lo=-3.0, hi=3.0):
    """Small random values with two decimals (short literals), in `dtype`."""
    return np.round(rng.uniform(lo, hi, shape), 2).astype(dtype)


def ints(shape, dtype, lo, hi):
    return rng.integers(lo, hi, shape, endpoint=True).astype(dtype)


def arr(values, dtype):
    return np.array(values, dtype=dtype)


def reference(op, opset, inputs, attrs, n_out, engine):
    names = [f"in{k}" if x is not None else "" for k, x in enumerate(inputs)]
    vis = [h.make_tensor_value_info(n, tensor_type(x), x.shape) for n, x in zip(names, inputs) if x is not None]
    outs = [f"out{k}" for k in range(n_out)]
    node = h.make_node(op, names, outs, **attrs)
    graph = h.make_graph([node], "g", vis, [h.make_value_info(o, onnx.TypeProto()) for o in outs])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    feeds = {n: x for n, x in zip(names, inputs) if x is not None}
    if engine == "ort":
        import onnxruntime as ort
        model.ir_version = 9
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)  # ORT wants typed outputs
        return ort.InferenceSession(model.SerializeToString()).run(None, feeds)
    return ReferenceEvaluator(model).run(None, feeds)


def tensor_type(x):
    if x.dtype == BF16:
        return TP.BFLOAT16
    if x.dtype.kind in "OUS":
        return TP.STRING
    return h.np_dtype_to_tensor_dtype(x.dtype)


CPP_TYPES = {
    np.float32: "float", np.float64: "double", np.float16: "Float16", BF16: "BFloat16",
    np.int8: "int8_t", np.int16: "int16_t", np.int32: "int32_t", np.int64: "int64_t",
    np.uint8: "uint8_t", np.uint16: "uint16_t", np.uint32: "uint32_t", np.uint64: "uint64_t",
    np.bool_: "bool",
}


def float_literal(v, dtype):
    v = float(v)
    if v == 0:
        return "-0.0" if np.signbit(v) else "0"  # "-0" would be the integer 0
    if np.isnan(v):
        return "kNaN"
    if np.isinf(v):
        return "kInf" if v > 0 else "-kInf"
    scalar = np.dtype(dtype).type(v)
    if dtype == BF16:
        scalar = np.float32(v)  # bfloat16 values are exact float32 values
    forms = [np.format_float_positional(scalar, unique=True, trim="-"),
             np.format_float_scientific(scalar, unique=True, trim="-")]
    # the C++ side reads a double and rounds it to the type: a short form must round back exactly
    for text in sorted(forms, key=len):
        back = float(text) if dtype == np.float64 else float(np.float32(float(text)))
        if np.dtype(dtype).type(back) == np.dtype(dtype).type(v):
            return text
    return repr(v)


def int_literal(v, dtype):
    v = int(v)
    if dtype == np.int64 and v == -(2**63):
        return "INT64_MIN"
    if dtype == np.uint64:
        return f"{v}ull"
    if dtype == np.int64:
        return f"{v}ll"
    return str(v)


def cpp_tensor(x):
    if x is None:
        return "Tensor()"
    dims = "{" + ", ".join(str(d) for d in x.shape) + "}"
    flat = x.ravel()
    if x.dtype.kind in "OUS":
        vals = ", ".join('"' + str(v if not isinstance(v, bytes) else v.decode()).replace('"', '\\"') + '"' for v in flat)
        return f"values<std::string>({dims}, {{{vals}}})"
    key = next(k for k in CPP_TYPES if np.dtype(k) == x.dtype)
    cpp = CPP_TYPES[key]
    if x.dtype.kind == "f" or x.dtype == BF16:
        vals = ", ".join(float_literal(v, key) for v in flat)
        return f"floats<{cpp}>({dims}, {{{vals}}})"
    if x.dtype == np.bool_:
        vals = ", ".join("true" if v else "false" for v in flat)
    else:
        vals = ", ".join(int_literal(v, key) for v in flat)
    return f"values<{cpp}>({dims}, {{{vals}}})"


def cpp_attr(name, v):
    if isinstance(v, float):
        return f'.attr("{name}", {v!r}f)'
    if isinstance(v, int):
        return f'.attr("{name}", int64_t{{{v}}})'
    if isinstance(v, (str, bytes)):
        return f'.attr("{name}", std::string("{v if isinstance(v, str) else v.decode()}"))'
    raise ValueError(v)


class Suite:
    """Collects cases into sections; each section becomes tests/unit/elementwise_ref_<section>_test.cpp."""

    def __init__(self):
        self.sections, self.current = {}, None

    def section(self, name, doc):
        self.current = name
        self.sections[name] = (doc, [])

    def case(self, name, op, opset, inputs, attrs=None, outputs=1, engine="onnx", expected=None, note=None, rtol=None):
        attrs = attrs or {}
        assert all(f", {name})" not in t for _, ts in self.sections.values() for t in ts), f"duplicate case {name}"
        if expected is None:
            expected = reference(op, opset, inputs, attrs, outputs, engine)
        call = f'OpCall("{op}", {opset})' + "".join(cpp_attr(k, v) for k, v in attrs.items())
        if outputs != 1:
            call += f".outputs({outputs})"
        lines = []
        if note:
            lines.append(f"// {note}")
        suite = "ElementwiseRef" + "".join(w.capitalize() for w in self.current.split("_"))
        lines.append(f"TEST({suite}, {name}) {{")
        args = [cpp_tensor(x) for x in inputs]
        one_line = f"  auto out = {call}.run({{{', '.join(args)}}});"
        if len(one_line) <= 120:
            lines.append(one_line)
        else:
            lines.append(f"  auto out = {call}.run({{")
            lines += [f"      {a}," for a in args]
            lines.append("  });")
        tol = f", {rtol}" if rtol else ""
        for k, e in enumerate(expected):
            if e is None:
                continue
            e = np.asarray(e)
            ref_dtype = inputs[0].dtype if (e.dtype.kind in "OUS" or e.dtype == object) else e.dtype
            if e.dtype == object or e.dtype.kind in "US":
                e = e.astype(object)
            lines.append(f"  expect_tensor(out[{k}], {cpp_tensor(e)}{tol});")
        lines.append("}")
        self.sections[self.current][1].append("\n".join(lines))

    def write(self, folder):
        for name, (doc, tests) in self.sections.items():
            self.write_one(os.path.join(folder, f"elementwise_ref_{name}_test.cpp"), doc, tests)
            print(f"{name}: {len(tests)} cases")

    def write_one(self, path, doc, tests):
        head = [
            "// GENERATED by tests/unit/gen_elementwise_reference.py from elementwise_reference_cases.py;",
            "// edit those, not this file.",
            f"// {doc}",
            "// Expected values: onnx.reference (numpy) unless a case says onnxruntime.",
            '#include "elementwise_test_util.h"',
            '#include "op_test_util.h"',
            "",
            "using namespace kiln;",
            "using namespace kiln::testing;",
            "",
            "",
        ]
        with open(path, "w") as f:
            f.write("\n".join(head) + "\n\n".join(tests) + "\n")


def main():
    from elementwise_reference_cases import add_binary_cases, add_unary_cases
    suite = Suite()
    add_unary_cases(suite, rnd, ints, arr, BF16)
    add_binary_cases(suite, rnd, ints, arr, BF16)
    suite.write(HERE)


if __name__ == "__main__":
    import sys
    sys.path.insert(0, HERE)
    main()
