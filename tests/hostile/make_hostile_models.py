#!/usr/bin/env python3
"""Writes one hostile or mistaken ONNX model per class into OUT_DIR, for run_hostile_tests.py.

    python make_hostile_models.py OUT_DIR

Each case is a folder OUT_DIR/<case>/ holding model.onnx (and, for external data, the files it names).
OUT_DIR/outside/ holds a sentinel file with known content that the external-data cases try to reach from
their own folder (by absolute path, '..', a symbolic link, a hard link): run_hostile_tests.py asserts that its
content never shows up in anything kiln prints or writes, and (with strace) that kiln never opened it.

The models are written with onnx.helper (no checker: most of them are invalid on purpose), by hand where
protobuf itself would refuse (empty, text, truncated, random bytes), and with torch.onnx.export for the three
export mistakes PyTorch users make: fixed input dims (no dynamic_axes), export_params=False, and an op the
declared opset cannot express. Deterministic: the same folder comes out on every run.
"""
import argparse
import os
import pathlib
import random
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MARKER = ".kiln-hostile"        # OUT_DIR is only ever wiped when it holds this file
SENTINEL = b"KILN-SENTINEL-7f3a9c41e2b85d06-OUTSIDE-THE-MODEL-FOLDER-01234567"  # 64 bytes
assert len(SENTINEL) == 64
OPSET = 17
IR = 8
HUGE = 1_000_000  # 1e6 x 1e6 = 1e12 elements


def write_model(out: pathlib.Path, case: str, model: onnx.ModelProto) -> pathlib.Path:
    folder = out / case
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())  # not onnx.save: it would touch external data
    return folder


def write_bytes(out: pathlib.Path, case: str, data: bytes) -> None:
    folder = out / case
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)


def model_of(nodes, inputs, outputs, initializers=(), opset=OPSET, ir=IR, functions=(), extra_opsets=()):
    graph = helper.make_graph(list(nodes), "hostile", list(inputs), list(outputs), list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, functions=list(functions), producer_name="kiln-hostile")
    m.ir_version = ir
    return m


def fin(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def relu_model(**kw):
    """x -> Relu -> y: a valid small model that other cases spoil."""
    return model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")], [fin("x", [2, 3])], [fin("y", [2, 3])],
                    **kw)


# ---- files that are not (whole) ONNX models --------------------------------------------------------------

def make_unreadable(out):
    write_bytes(out, "empty_file", b"")
    write_bytes(out, "text_file", b'ir_version: 8\ngraph {\n  node { input: "x" output: "y" op_type: "Relu" }\n}\n')
    weights = helper.make_tensor("w", TensorProto.FLOAT, [256], np.arange(256, dtype=np.float32).tobytes(), raw=True)
    full = model_of([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [fin("x", [256])], [fin("y", [256])],
                    [weights]).SerializeToString()
    write_bytes(out, "truncated_model", full[: len(full) * 2 // 3])
    rng = random.Random(1234)
    # A first byte other than 0x08 (ir_version's tag), as in almost every random file.
    write_bytes(out, "random_bytes", bytes([0x5a]) + bytes(rng.randrange(256) for _ in range(4095)))
    write_model(out, "ir_version_0", relu_model(ir=0))
    write_model(out, "ir_version_99", relu_model(ir=99))


def engine_header(version=1, file_size=64, sections=0, checksum=0):
    """A kiln engine header (src/engine/engine_file.h): magic, format version, header size, kiln version, ISA tier,
    flags, section count, reserved, file size, header checksum, reserved."""
    return struct.pack("<8sIIHHHHIIIIQQQ", b"KILNENG\0", version, 64, 0, 1, 0, 0, 1, 0, sections, 0, file_size,
                       checksum, 0)


def make_engines(out):
    # Refused before the checksum is read: by size, by version, by the size the header claims; then by checksum.
    write_bytes(out, "engine_truncated", engine_header()[:28])
    write_bytes(out, "engine_newer_version", engine_header(version=99))  # newer than any kiln reads
    write_bytes(out, "engine_size_lies", engine_header(file_size=1 << 40))
    write_bytes(out, "engine_bad_checksum", engine_header(checksum=0x1234))


# ---- external data ---------------------------------------------------------------------------------------

def external_model(location, extra=(), dims=(64,), keys=None):
    """W (uint8, stored externally) -> Identity -> y: a run that read W would write its bytes to y.npy."""
    t = TensorProto()
    t.name = "W"
    t.data_type = TensorProto.UINT8
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    entries = keys if keys is not None else [("location", location)] + list(extra)
    for k, v in entries:
        e = t.external_data.add()
        e.key, e.value = k, v
    return model_of([helper.make_node("Identity", ["W"], ["y"], name="copy_weights")], [],
                    [fin("y", list(dims), TensorProto.UINT8)], [t])


def make_external(out):
    outside = out / "outside"
    outside.mkdir(parents=True, exist_ok=True)
    sentinel = outside / "sentinel.bin"
    sentinel.write_bytes(SENTINEL)

    write_model(out, "ext_absolute_path", external_model(str(sentinel.resolve())))
    write_model(out, "ext_dotdot", external_model("../outside/sentinel.bin"))
    nested = write_model(out, "ext_nested_dotdot", external_model("a/../../outside/sentinel.bin"))
    (nested / "a").mkdir(exist_ok=True)

    folder = write_model(out, "ext_symlink_folder", external_model("data/sentinel.bin"))
    os.symlink("../outside", folder / "data")
    folder = write_model(out, "ext_symlink_file", external_model("weights.bin"))
    os.symlink("../outside/sentinel.bin", folder / "weights.bin")
    folder = write_model(out, "ext_hard_link", external_model("weights.bin"))
    target = outside / "hard_link_target.bin"
    target.write_bytes(SENTINEL)
    os.link(target, folder / "weights.bin")

    inside = bytes(64)  # harmless bytes inside the case folder
    for case, extra, keys in [
        ("ext_negative_offset", [("offset", "-8")], None),
        ("ext_huge_offset", [("offset", str(2**62))], None),
        ("ext_huge_length", [("length", str(2**62))], None),
        ("ext_range_past_end", [("offset", "32"), ("length", "64")], None),
        ("ext_unknown_key", [("owner", "someone")], None),
        ("ext_duplicate_key", None, [("location", "weights.bin"), ("offset", "0"), ("offset", "8")]),
    ]:
        folder = write_model(out, case, external_model("weights.bin", extra or (), keys=keys))
        (folder / "weights.bin").write_bytes(inside)


# ---- tensors ---------------------------------------------------------------------------------------------

def raw_tensor(name, dtype, dims, raw):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def weight_model(tensor, out_dims):
    return model_of([helper.make_node("Add", ["x", tensor.name], ["y"], name="add_weights")], [fin("x", [4])],
                    [fin("y", out_dims)], [tensor])


def make_tensors(out):
    write_model(out, "dims_negative", weight_model(raw_tensor("W", TensorProto.FLOAT, [-1, 4], bytes(16)), [4]))
    write_model(out, "dims_overflow",
                weight_model(raw_tensor("W", TensorProto.FLOAT, [2**32, 2**32], bytes(16)), [4]))
    write_model(out, "raw_data_short", weight_model(raw_tensor("W", TensorProto.FLOAT, [4], bytes(12)), [4]))
    write_model(out, "raw_data_long", weight_model(raw_tensor("W", TensorProto.FLOAT, [4], bytes(20)), [4]))
    write_model(out, "unknown_data_type", weight_model(raw_tensor("W", 99, [4], bytes(16)), [4]))
    # The same lies in a graph input's declared shape (ValueInfoProto), and a declared size too big to make.
    for case, dims in (("input_dims_negative", [2, -3]), ("input_dims_overflow", [2**32, 2**32]),
                       ("input_dims_huge", [HUGE, HUGE])):
        write_model(out, case, model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")], [fin("x", dims)],
                                        [fin("y", dims)]))


# ---- graph structure -------------------------------------------------------------------------------------

def make_structure(out):
    write_model(out, "graph_cycle", model_of(
        [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
         helper.make_node("Relu", ["a"], ["b"], name="second")],
        [fin("x", [2])], [fin("b", [2])]))
    write_model(out, "dangling_input", model_of(
        [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add_ghost")], [fin("x", [2])], [fin("y", [2])]))
    write_model(out, "value_produced_twice", model_of(
        [helper.make_node("Relu", ["x"], ["y"], name="relu_a"), helper.make_node("Neg", ["x"], ["y"], name="neg_b")],
        [fin("x", [2])], [fin("y", [2])]))
    write_model(out, "unknown_op", model_of(
        [helper.make_node("FancyActivation", ["x"], ["y"], name="fancy")], [fin("x", [2])], [fin("y", [2])]))
    write_model(out, "unknown_domain", model_of(
        [helper.make_node("Relu", ["x"], ["y"], name="custom_relu", domain="com.example.custom")],
        [fin("x", [2])], [fin("y", [2])], extra_opsets=[("com.example.custom", 1)]))
    # Transpose's perm is a list of ints; here it is a string.
    write_model(out, "attribute_wrong_type", model_of(
        [helper.make_node("Transpose", ["x"], ["y"], name="transpose", perm="1,0")],
        [fin("x", [2, 3])], [fin("y", [3, 2])]))
    # Cast's `to` is required.
    write_model(out, "attribute_missing", model_of(
        [helper.make_node("Cast", ["x"], ["y"], name="cast")], [fin("x", [2])], [fin("y", [2])]))


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def nested_if(depth):
    """An If whose then-branch is an If whose then-branch ... `depth` levels, reading the outer `cond` and `x`.

    Written by hand: protobuf's own parser (upb) refuses messages nested this deep, so helper cannot build it.
    Field numbers from onnx.proto: GraphProto.node 1, name 2, output 12; NodeProto.input 1, output 2, name 3,
    op_type 4, attribute 5; AttributeProto.name 1, g 6, type 20; ModelProto.graph 7.
    """
    def leaf(out_name):
        return helper.make_graph([helper.make_node("Identity", ["x"], [out_name])], "leaf", [],
                                 [fin(out_name, [2])]).SerializeToString()

    def if_graph(level, then_bytes, out_name, graph_name):
        attr = lambda name, g: _field(1, name.encode()) + _field(6, g) + _varint(20 << 3) + _varint(5)
        node = (_field(1, b"cond") + _field(2, out_name.encode()) + _field(3, f"if{level}".encode()) +
                _field(4, b"If") + _field(5, attr("then_branch", then_bytes)) +
                _field(5, attr("else_branch", leaf(out_name))))
        return _field(1, node) + _field(2, graph_name.encode()) + _field(12, fin(out_name, [2]).SerializeToString())

    g = leaf(f"out{depth}")
    for level in range(depth - 1, 0, -1):
        g = if_graph(level, g, f"out{level}", f"level{level}")
    top = if_graph(0, g, "y", "hostile")
    shell = model_of([], [fin("cond", [], TensorProto.BOOL), fin("x", [2])], [fin("y", [2])])
    shell.ClearField("graph")
    inputs = b"".join(_field(11, fin(n, s, t).SerializeToString())
                      for n, s, t in (("cond", [], TensorProto.BOOL), ("x", [2], TensorProto.FLOAT)))
    return shell.SerializeToString() + _field(7, top + inputs)


def recursive_function():
    """A local function Rec whose body calls Rec: ONNX forbids recursion; inlining it would never end."""
    body = [helper.make_node("Rec", ["a"], ["b"], domain="local.funcs", name="call_self")]
    fn = helper.make_function("local.funcs", "Rec", ["a"], ["b"], body,
                              [helper.make_opsetid("", OPSET), helper.make_opsetid("local.funcs", 1)])
    return model_of([helper.make_node("Rec", ["x"], ["y"], domain="local.funcs", name="call_rec")],
                    [fin("x", [2])], [fin("y", [2])], functions=[fn], extra_opsets=[("local.funcs", 1)])


def i64(name, values, dims=None):
    values = list(values)
    return helper.make_tensor(name, TensorProto.INT64, [len(values)] if dims is None else dims, values)


def make_resources(out):
    write_bytes(out, "nesting_40_levels", nested_if(40))
    write_model(out, "recursive_function", recursive_function())
    write_model(out, "constant_of_shape_1e12", model_of(
        [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="fill")], [], [fin("y", [HUGE, HUGE])],
        [i64("shape", [HUGE, HUGE])]))
    write_model(out, "expand_1e12", model_of(
        [helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")], [fin("x", [1])],
        [fin("y", [HUGE, HUGE])], [i64("shape", [HUGE, HUGE])]))
    write_model(out, "tile_1e12", model_of(
        [helper.make_node("Tile", ["x", "repeats"], ["y"], name="tile")], [fin("x", [1, 1])],
        [fin("y", [HUGE, HUGE])], [i64("repeats", [HUGE, HUGE])]))
    write_model(out, "range_1e12", model_of(
        [helper.make_node("Range", ["start", "limit", "delta"], ["y"], name="range")], [],
        [fin("y", [HUGE * HUGE], TensorProto.INT64)],
        [i64("start", [0], []), i64("limit", [HUGE * HUGE], []), i64("delta", [1], [])]))
    # Loop: trip count 2^63-1, the body hands its condition (true) straight back: it never ends by itself.
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going"),
         helper.make_node("Add", ["v_in", "one"], ["v_out"], name="count")],
        "forever", [fin("i", [], TensorProto.INT64), fin("cond_in", [], TensorProto.BOOL), fin("v_in", [1])],
        [fin("cond_out", [], TensorProto.BOOL), fin("v_out", [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    write_model(out, "loop_forever", model_of(
        [helper.make_node("Loop", ["trip_count", "cond", "v0"], ["v"], name="endless_loop", body=body)],
        [fin("v0", [1])], [fin("v", [1])],
        [i64("trip_count", [2**63 - 1], []), helper.make_tensor("cond", TensorProto.BOOL, [], [True])]))


# ---- the three export mistakes, exported for real --------------------------------------------------------

def make_exports(out):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class TinyConvNet(nn.Module):
        def __init__(self, upsample=False):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 2, 3, padding=1)
            self.upsample = upsample

        def forward(self, x):
            y = self.conv2(F.relu(self.conv1(x)))
            return F.interpolate(y, scale_factor=2.0, mode="nearest") if self.upsample else y

    torch.manual_seed(0)
    example = torch.randn(1, 3, 8, 8)

    def export(case, net, **kw):
        folder = out / case
        folder.mkdir(parents=True, exist_ok=True)
        torch.onnx.export(net.eval(), (example,), str(folder / "model.onnx"), input_names=["input"],
                          output_names=["output"], **kw)
        return folder / "model.onnx"

    # 1. No dynamic_axes: every dim of `input` is fixed to 1x3x8x8; the runner feeds 1x3x16x16.
    export("export_fixed_dims", TinyConvNet(), opset_version=13)
    # The same net exported right (dynamic_axes): the control that must run at 1x3x16x16.
    export("export_dynamic_ok", TinyConvNet(), opset_version=13,
           dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "height", 3: "width"}})
    # 2. export_params=False: conv1.weight, conv1.bias, conv2.weight, conv2.bias become graph inputs.
    export("export_no_params", TinyConvNet(), opset_version=13, export_params=False)
    # ... and on a real network, where folding batch norm into the convolutions leaves most weights named after
    # the op that reads them ('onnx::Conv_193'): every one is a missing parameter, none gets dynamic_axes advice.
    # params.txt lists them for the runner, which expects every name in what kiln says.
    import torchvision
    folder = out / "export_resnet18_no_params"
    folder.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(torchvision.models.resnet18(weights=None).eval(), (torch.randn(1, 3, 224, 224),),
                      str(folder / "model.onnx"), input_names=["input"], output_names=["output"], opset_version=13,
                      export_params=False)
    g = onnx.load(str(folder / "model.onnx")).graph
    initialized = {t.name for t in g.initializer}
    params = [i.name for i in g.input if i.name not in initialized and i.name != "input"]
    (folder / "params.txt").write_text("".join(p + "\n" for p in params))
    # 3. A Resize written for opset 11 (X, roi, scales) in a file that declares opset 10, where Resize takes
    # (X, scales): what an exporter without a mapping at the declared opset leaves behind.
    path = export("export_opset_mismatch", TinyConvNet(upsample=True), opset_version=11)
    m = onnx.load(str(path))
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 10
    path.write_bytes(m.SerializeToString())
    # ... and a model built at opset 9 with an op that only exists from opset 11 (Range).
    write_model(out, "newer_op_than_opset", model_of(
        [helper.make_node("Range", ["start", "limit", "delta"], ["y"], name="positions")], [],
        [fin("y", [8])], [helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in
                          (("start", 0.0), ("limit", 8.0), ("delta", 1.0))], opset=9))


def make_other_exporters(out):
    """Models as other exporters write them, and outputs NumPy cannot hold."""
    rng = np.random.default_rng(0)

    def conv(name, x, y, cin, cout, stride=1):
        w = numpy_helper.from_array(rng.standard_normal((cout, cin, 3, 3)).astype(np.float32) * 0.1, f"{name}.w")
        b = numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b")
        node = helper.make_node("Conv", [x, w.name, b.name], [y], name=name, pads=[1, 1, 1, 1],
                                strides=[stride, stride])
        return node, [w, b]

    # paddle2onnx (PaddleOCR's angle classifier): x is [-1, 3, "?", "?"]. "?" is no name: height and width are
    # independent unknown dims, and the model runs at 48x192 as in ONNX Runtime.
    nodes, inits = [], []
    for i, (cin, cout, stride) in enumerate([(3, 8, 2), (8, 8, 1), (8, 4, 2)]):
        n, w = conv(f"conv{i}", "x" if i == 0 else f"h{i - 1}", f"r{i}" if i < 2 else "logits", cin, cout, stride)
        nodes.append(n)
        inits += w
        if i < 2:
            nodes.append(helper.make_node("Relu", [f"r{i}"], [f"h{i}"], name=f"relu{i}"))
    write_model(out, "paddle_placeholder_dims", model_of(
        nodes, [fin("x", [-1, 3, "?", "?"])], [fin("logits", [-1, 4, "?", "?"])], inits, opset=11))
    # A real name reused for height and width: check warns that it ties them; run goes ahead and warns once;
    # --strict-symbols refuses.
    n, w = conv("conv", "x", "y", 3, 2)
    write_model(out, "shared_symbol_hw", model_of([n], [fin("x", ["batch", 3, "size", "size"])],
                                                  [fin("y", ["batch", 2, "size", "size"])], w, opset=13))
    # Outputs NumPy has no dtype for: kiln run writes them as TensorProto .pb files and says so.
    write_model(out, "bfloat16_output", model_of(
        [helper.make_node("Cast", ["x"], ["y"], name="to_bf16", to=TensorProto.BFLOAT16),
         helper.make_node("Cast", ["x"], ["z"], name="to_f8", to=TensorProto.FLOAT8E4M3FN),
         helper.make_node("Relu", ["x"], ["r"], name="relu")],
        [fin("x", [2, 3])], [fin("y", [2, 3], TensorProto.BFLOAT16), fin("z", [2, 3], TensorProto.FLOAT8E4M3FN),
                             fin("r", [2, 3])], opset=21, ir=10))


def make_several_problems(out):
    """Weights missing, an unknown op and an op too new for the opset, all in one model: check lists them all."""
    ranges = [helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in (("start", 0.0), ("limit", 4.0),
                                                                             ("delta", 1.0))]
    write_model(out, "several_problems", model_of(
        [helper.make_node("MatMul", ["x", "fc.weight"], ["h"], name="fc"),
         helper.make_node("FancyActivation", ["h"], ["a"], name="fancy"),
         helper.make_node("Range", ["start", "limit", "delta"], ["positions_out"], name="positions")],
        [fin("x", [1, 4]), fin("fc.weight", [4, 4])], [fin("a", [1, 4]), fin("positions_out", [4])], ranges,
        opset=9))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=pathlib.Path)
    args = ap.parse_args()
    out = args.out_dir.resolve()
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            sys.exit(f"{out} exists and was not made by this script; refusing to wipe it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by tests/hostile/make_hostile_models.py\n")
    for make in (make_unreadable, make_engines, make_external, make_tensors, make_structure, make_resources,
                 make_several_problems, make_other_exporters, make_exports):
        make(out)
    cases = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != "outside")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
