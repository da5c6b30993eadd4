#!/usr/bin/env python3
"""Writes rnn_fixtures.h: LSTM / GRU / RNN cases with expected outputs from an independent reference.

Two references:
  * onnxruntime runs a one-node ONNX model built here (every direction, layout 0/1, sequence_lens shorter
    than seq_length, initial states, peepholes, input_forget, clip, linear_before_reset, activations).
  * torch: nn.LSTM / nn.GRU / nn.RNN are exported with torch.onnx.export (dynamic batch and sequence); the
    exported recurrent node's attributes and W/R/B initializers become the case, and torch's own outputs,
    at another batch and sequence length than the export used, rearranged into ONNX's Y/Y_h/Y_c layout,
    are the expected values. ONNX Runtime must agree with torch on the whole exported model, or the
    script stops.

Every input is rounded to a float16 value so the C++ test can run each case in float32, float64 and
float16 against the same expectations.

Run: /work/main/.venv/bin/python tests/unit/data/make_rnn_fixtures.py   (writes next to this file)
"""
import io
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

INPUT_NAMES = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
rng = np.random.default_rng(1234)


def f16(a):
    """Rounds to a float16-representable float32 array."""
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float32)


def randn(*shape, scale=1.0):
    return f16(rng.standard_normal(shape) * scale)


def run_ort(op, opset, attrs, inputs, n_out):
    names, feeds = [], {}
    for n, v in zip(INPUT_NAMES, inputs):
        if v is None:
            names.append("")
        else:
            names.append(n)
            feeds[n] = v
    while names and names[-1] == "":
        names.pop()
    outs = ["Y", "Y_h", "Y_c"][:n_out]
    node = helper.make_node(op, names, outs, **attrs)
    vi = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(feeds[n].dtype), feeds[n].shape)
          for n in names if n]
    out_vi = [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs]
    model = helper.make_model(helper.make_graph([node], "g", vi, out_vi),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def make_case(name, op, opset, attrs, seq, batch, inp, hidden, *, bias=True, lens=None, init=False,
              peep=False):
    """Random inputs for one node; returns the case with ORT's outputs."""
    layout = attrs.get("layout", 0)
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    g = GATES[op]
    x = randn(*((seq, batch, inp) if layout == 0 else (batch, seq, inp)))
    state = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)
    inputs = [x, randn(dirs, g * hidden, inp, scale=0.5), randn(dirs, g * hidden, hidden, scale=0.5),
              randn(dirs, 2 * g * hidden, scale=0.5) if bias else None,
              np.array(lens, np.int32) if lens is not None else None,
              randn(*state) if init else None]
    if op == "LSTM":
        inputs += [randn(*state) if init else None, randn(dirs, 3 * hidden, scale=0.5) if peep else None]
    while inputs[-1] is None:
        inputs.pop()
    n_out = 3 if op == "LSTM" else 2
    if layout == 0:
        outputs = run_ort(op, opset, attrs, inputs, n_out)
    else:
        # ONNX Runtime refuses layout 1, so it runs the same data in layout 0; the spec defines layout 1 as
        # X [batch, seq, input], states [batch, dirs, hidden], Y [batch, seq, dirs, hidden].
        swap = [None if a is None else a.transpose(1, 0, 2) if i in (0, 5, 6) else a for i, a in enumerate(inputs)]
        outs = run_ort(op, opset, {k: v for k, v in attrs.items() if k != "layout"}, swap, n_out)
        outputs = [outs[0].transpose(2, 0, 1, 3)] + [o.transpose(1, 0, 2) for o in outs[1:]]
    return dict(name=name, op=op, opset=opset, attrs=attrs, inputs=inputs, outputs=outputs)


def ort_cases():
    c = []
    # LSTM
    c.append(make_case("lstm_forward_defaults", "LSTM", 7, dict(hidden_size=3), 3, 2, 4, 3, bias=False))
    c.append(make_case("lstm_forward_bias_init", "LSTM", 14, dict(hidden_size=3), 4, 2, 3, 3, init=True))
    c.append(make_case("lstm_reverse_lens", "LSTM", 14, dict(hidden_size=3, direction="reverse"), 4, 3, 2, 3,
                       lens=[4, 1, 2], init=True))
    c.append(make_case("lstm_bidir_lens_zero_peep_clip", "LSTM", 14,
                       dict(hidden_size=2, direction="bidirectional", clip=0.75), 4, 3, 3, 2,
                       lens=[4, 0, 2], init=True, peep=True))
    c.append(make_case("lstm_bidir_layout1_lens", "LSTM", 22,
                       dict(hidden_size=3, direction="bidirectional", layout=1), 4, 3, 2, 3,
                       lens=[2, 4, 3], init=True, peep=True))
    c.append(make_case("lstm_reverse_layout1", "LSTM", 14, dict(hidden_size=2, direction="reverse", layout=1),
                       3, 2, 3, 2, init=True))
    c.append(make_case("lstm_input_forget_peep", "LSTM", 14, dict(hidden_size=3, input_forget=1), 3, 2, 3, 3,
                       init=True, peep=True))
    c.append(make_case("lstm_bidir_activations", "LSTM", 14,
                       dict(hidden_size=2, direction="bidirectional",
                            activations=["HardSigmoid", "Elu", "Softsign", "LeakyRelu", "ScaledTanh", "Affine"],
                            activation_alpha=[0.25, 0.8, 0.05, 0.9, 1.1], activation_beta=[0.45, 0.7, 0.2]),
                       3, 2, 3, 2, init=True))
    c.append(make_case("lstm_activations_relu_softplus", "LSTM", 14,
                       dict(hidden_size=2, activations=["Sigmoid", "Relu", "Softplus"]), 3, 2, 2, 2, init=True))
    # GRU
    c.append(make_case("gru_forward_defaults", "GRU", 7, dict(hidden_size=3), 3, 2, 4, 3, bias=False))
    c.append(make_case("gru_forward_lbr1_init", "GRU", 14, dict(hidden_size=3, linear_before_reset=1), 4, 2, 3, 3,
                       init=True))
    c.append(make_case("gru_reverse_lens", "GRU", 14, dict(hidden_size=3, direction="reverse"), 4, 3, 2, 3,
                       lens=[3, 4, 1], init=True))
    c.append(make_case("gru_bidir_lbr1_lens_clip", "GRU", 14,
                       dict(hidden_size=2, direction="bidirectional", linear_before_reset=1, clip=0.6), 4, 3, 3, 2,
                       lens=[2, 4, 0], init=True))
    c.append(make_case("gru_bidir_layout1_lens", "GRU", 22, dict(hidden_size=3, direction="bidirectional", layout=1),
                       4, 3, 2, 3, lens=[4, 2, 3], init=True))
    c.append(make_case("gru_bidir_layout1_lbr1", "GRU", 14,
                       dict(hidden_size=2, direction="bidirectional", layout=1, linear_before_reset=1), 3, 2, 3, 2))
    c.append(make_case("gru_activations", "GRU", 14,
                       dict(hidden_size=2, direction="bidirectional",
                            activations=["HardSigmoid", "ThresholdedRelu", "Sigmoid", "Softsign"],
                            activation_alpha=[0.3, 0.1], activation_beta=[0.6]), 3, 2, 3, 2, init=True))
    # RNN
    c.append(make_case("rnn_forward_defaults", "RNN", 7, dict(hidden_size=3), 3, 2, 4, 3, bias=False))
    c.append(make_case("rnn_reverse_lens_init", "RNN", 14, dict(hidden_size=3, direction="reverse"), 4, 3, 2, 3,
                       lens=[1, 4, 3], init=True))
    c.append(make_case("rnn_bidir_relu_clip", "RNN", 14,
                       dict(hidden_size=3, direction="bidirectional", activations=["Relu", "Tanh"], clip=0.9),
                       3, 2, 3, 3, init=True))
    c.append(make_case("rnn_bidir_layout1_lens", "RNN", 22, dict(hidden_size=2, direction="bidirectional", layout=1),
                       4, 3, 3, 2, lens=[4, 3, 0], init=True))
    c.append(make_case("rnn_activations", "RNN", 14,
                       dict(hidden_size=2, direction="bidirectional", activations=["LeakyRelu", "Elu"],
                            activation_alpha=[0.2, 0.5]), 3, 2, 2, 2, init=True))
    return c


def torch_case(name, module, batch_first, x_export, x_run):
    """Exports `module`, checks ORT against torch on the whole model, and returns the recurrent node's case."""
    import torch
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())
    buf = io.BytesIO()
    axes = {0: "batch", 1: "seq"} if batch_first else {0: "seq", 1: "batch"}
    torch.onnx.export(module, (torch.from_numpy(x_export),), buf, input_names=["x"], output_names=["y", "h"],
                      dynamic_axes={"x": axes, "y": axes}, opset_version=14)
    model = onnx.load_from_string(buf.getvalue())
    with torch.no_grad():
        out = module(torch.from_numpy(x_run))
    y, states = out[0].numpy(), out[1]
    states = [s.numpy() for s in (states if isinstance(states, tuple) else (states,))]
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x_run})
    for a, b in zip(got, [y] + states):
        if not np.allclose(a, b, rtol=1e-4, atol=1e-5):
            sys.exit(f"{name}: onnxruntime disagrees with torch on the exported model")

    nodes = [n for n in model.graph.node if n.op_type in GATES]
    assert len(nodes) == 1, f"{name}: expected one recurrent node"
    node = nodes[0]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else [s.decode() for s in v] if k == "activations" else v)
             for k, v in attrs.items()}
    assert attrs.get("layout", 0) == 0
    hidden = attrs["hidden_size"]
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    xs = x_run.transpose(1, 0, 2) if batch_first else x_run  # [seq, batch, input], what the node reads
    seq, batch = xs.shape[0], xs.shape[1]
    inputs = [xs]
    for i, n in enumerate(node.input[1:4], start=1):
        assert n in inits, f"{name}: input {INPUT_NAMES[i]} of the node is not an initializer"
        inputs.append(inits[n].astype(np.float32))
    inputs.append(None)  # sequence_lens: torch exports none
    zeros = np.zeros((dirs, batch, hidden), np.float32)  # the exporter feeds zero initial states
    inputs.append(zeros)
    if node.op_type == "LSTM":
        inputs.append(zeros)
    # torch's output: [batch, seq, dirs*hidden] (batch_first) or [seq, batch, dirs*hidden] -> Y [seq, dirs, batch, hidden]
    y = y.reshape(y.shape[0], y.shape[1], dirs, hidden)
    y = y.transpose(1, 2, 0, 3) if batch_first else y.transpose(0, 2, 1, 3)
    assert y.shape == (seq, dirs, batch, hidden)
    return dict(name=name, op=node.op_type, opset=14, attrs=attrs, inputs=inputs, outputs=[y] + states)


def torch_cases():
    import torch
    torch.manual_seed(7)
    c = []
    c.append(torch_case("torch_lstm_bidir_batch_first", torch.nn.LSTM(4, 3, bidirectional=True, batch_first=True),
                        True, randn(2, 5, 4), randn(3, 4, 4)))
    c.append(torch_case("torch_lstm_seq_first", torch.nn.LSTM(3, 4, batch_first=False), False,
                        randn(5, 2, 3), randn(6, 3, 3)))
    c.append(torch_case("torch_gru_bidir_batch_first", torch.nn.GRU(3, 2, bidirectional=True, batch_first=True),
                        True, randn(2, 5, 3), randn(3, 4, 3)))
    c.append(torch_case("torch_rnn_relu", torch.nn.RNN(3, 4, nonlinearity="relu"), False,
                        randn(5, 2, 3), randn(4, 3, 3)))
    return c


def c_float(v):
    s = f"{float(v):.9g}"
    return s + ("f" if ("." in s or "e" in s) else ".f")


def c_floats(a):
    return "{" + ", ".join(c_float(v) for v in np.asarray(a, np.float64).ravel()) + "}"


def c_tensor(a):
    if a is None:
        return "{false, false, {}, {}}"
    a = np.asarray(a)
    dims = "{" + ", ".join(str(d) for d in a.shape) + "}"
    is_int = "true" if a.dtype.kind in "iu" else "false"
    return f"{{true, {is_int}, {dims}, {c_floats(a)}}}"


def c_attr(k, v):
    if isinstance(v, (int, np.integer)):
        return f'{{"{k}", FixtureAttr::kInt, {int(v)}, 0.f, "", {{}}, {{}}}}'
    if isinstance(v, float):
        return f'{{"{k}", FixtureAttr::kFloat, 0, {c_float(v)}, "", {{}}, {{}}}}'
    if isinstance(v, str):
        return f'{{"{k}", FixtureAttr::kString, 0, 0.f, "{v}", {{}}, {{}}}}'
    if all(isinstance(s, str) for s in v):
        return f'{{"{k}", FixtureAttr::kStrings, 0, 0.f, "", {{}}, {{' + ", ".join(f'"{s}"' for s in v) + "}}"
    return f'{{"{k}", FixtureAttr::kFloats, 0, 0.f, "", {c_floats(v)}, {{}}}}'


HEADER = """// Generated by make_rnn_fixtures.py from onnxruntime {ort} and torch {torch}: do not edit.
// Each case: one LSTM/GRU/RNN node (attributes, inputs in ONNX order, absent ones marked) and the outputs
// Y, Y_h (, Y_c) an independent reference computed. Inputs are float16-representable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::testing::rnn_fixtures {{

struct FixtureAttr {{
  enum Kind {{ kInt, kFloat, kString, kFloats, kStrings }};
  const char* name;
  Kind kind;
  int64_t i;
  float f;
  const char* s;
  std::vector<float> floats;
  std::vector<std::string> strings;
}};

struct FixtureTensor {{
  bool present;
  bool is_int;  // sequence_lens: int32
  std::vector<int64_t> dims;
  std::vector<float> data;
}};

struct Fixture {{
  const char* name;
  const char* op;
  int opset;
  std::vector<FixtureAttr> attrs;
  std::vector<FixtureTensor> inputs;
  std::vector<FixtureTensor> outputs;
}};

inline const std::vector<Fixture>& all_fixtures() {{
  static const std::vector<Fixture> fixtures = {{
"""


def main():
    import torch
    cases = ort_cases() + torch_cases()
    out = [HEADER.format(ort=ort.__version__, torch=torch.__version__)]
    for c in cases:
        attrs = ", ".join(c_attr(k, v) for k, v in sorted(c["attrs"].items()))
        ins = ", ".join(c_tensor(a) for a in c["inputs"])
        outs = ", ".join(c_tensor(a) for a in c["outputs"])
        out.append(f'    {{"{c["name"]}", "{c["op"]}", {c["opset"]},\n     {{{attrs}}},\n     {{{ins}}},\n'
                   f"     {{{outs}}}}},\n")
    out.append("  };\n  return fixtures;\n}\n\n}  // namespace kiln::testing::rnn_fixtures\n")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_fixtures.h")
    with open(path, "w") as f:
        f.write("".join(out))
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
