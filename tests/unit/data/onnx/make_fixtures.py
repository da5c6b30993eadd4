#!/usr/bin/env python3
"""Regenerates the fixtures of the ONNX loader tests (tests/unit/onnx_*_test.cpp) and manifest.json.

The manifest holds what ONNX's own Python reader (onnx.load, onnx.numpy_helper) sees in every fixture and in
the model test data the onnx wheel ships in the venv: graph structure, value types, attributes, and a CRC-32
of every tensor's little-endian element bytes. The C++ tests load the same files with kiln and compare, so
the expected values never come from kiln itself.

Run from the repository root with the project's venv:
    .venv/bin/python tests/unit/data/onnx/make_fixtures.py
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import zlib

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")

# Node tests the wheel no longer ships as files; generated from onnx's own test cases. Chosen for coverage of
# the loader: subgraphs (If, Loop, Scan), sequences and optionals, strings, float16/bfloat16, bool.
NODE_CASES = [
    "test_abs", "test_if", "test_if_seq", "test_loop11", "test_scan9_sum", "test_optional_get_element_sequence",
    "test_string_concat", "test_cast_FLOAT_to_FLOAT16", "test_cast_FLOAT_to_BFLOAT16", "test_and2d",
    "test_identity_opt", "test_cast_FLOAT_to_INT4",
]
VENV_KINDS = ["simple", "pytorch-operator", "pytorch-converted", "light"]


# ---- summaries: what onnx's reader sees ----

def tensor_crc(arr: np.ndarray) -> int:
    if arr.dtype.kind in ("O", "U", "S"):
        data = b"".join((s if isinstance(s, bytes) else str(s).encode()) + b"\0" for s in arr.reshape(-1))
    else:
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    return zlib.crc32(data)


def tensor_summary(t: TensorProto, base_dir: str | None = None) -> dict:
    s = {"name": t.name, "data_type": t.data_type, "dims": list(t.dims)}
    try:
        arr = numpy_helper.to_array(t, base_dir or "")
    except Exception as e:  # types numpy cannot hold (int4, float8): kiln refuses them too
        s["unreadable"] = str(e)[:80]
        return s
    if t.data_type == TensorProto.BFLOAT16 or t.data_type == TensorProto.FLOAT16:
        arr = arr.view(np.uint16) if arr.dtype.itemsize == 2 else arr
        if arr.dtype != np.uint16:  # numpy_helper may return float32 for bfloat16
            arr = (arr.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    s["crc32"] = tensor_crc(arr)
    return s


def dense_of_sparse(sp: onnx.SparseTensorProto) -> TensorProto:
    values = numpy_helper.to_array(sp.values)
    idx = numpy_helper.to_array(sp.indices)
    dense = np.zeros(list(sp.dims), dtype=values.dtype)
    flat = dense.reshape(-1)
    if idx.ndim == 2:
        idx = np.ravel_multi_index(tuple(idx.T), list(sp.dims))
    flat[idx] = values
    return numpy_helper.from_array(dense, sp.values.name)


def type_summary(tp: onnx.TypeProto) -> dict:
    which = tp.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(tp, which)
        s = {"kind": "tensor" if which == "tensor_type" else "sparse_tensor", "elem_type": tt.elem_type}
        if tt.HasField("shape"):
            dims = []
            for d in tt.shape.dim:
                w = d.WhichOneof("value")
                if w == "dim_value" and d.dim_value >= 0:
                    dims.append(d.dim_value)
                elif w == "dim_param" and d.dim_param:
                    dims.append(d.dim_param)
                else:
                    dims.append(None)
            s["shape"] = dims
        else:
            s["shape"] = None
        return s
    if which in ("sequence_type", "optional_type"):
        inner = getattr(tp, which)
        s = {"kind": "sequence" if which == "sequence_type" else "optional"}
        if inner.HasField("elem_type"):
            s["elem"] = type_summary(inner.elem_type)
        return s
    if which == "map_type":
        return {"kind": "map", "key_type": tp.map_type.key_type, "elem": type_summary(tp.map_type.value_type)}
    if which == "opaque_type":
        return {"kind": "opaque"}
    return {"kind": "none"}


def value_info_summary(vi: onnx.ValueInfoProto) -> dict:
    return {"name": vi.name, "type": type_summary(vi.type) if vi.HasField("type") else None}


def attribute_summary(a: AttributeProto, base_dir: str) -> dict:
    s = {"name": a.name, "type": a.type}
    if a.ref_attr_name:
        s["ref_attr_name"] = a.ref_attr_name
        return s
    T = AttributeProto
    if a.type == T.FLOAT:
        s["f"] = a.f
    elif a.type == T.INT:
        s["i"] = a.i
    elif a.type == T.STRING:
        s["s_hex"] = a.s.hex()
    elif a.type == T.FLOATS:
        s["floats"] = list(a.floats)
    elif a.type == T.INTS:
        s["ints"] = list(a.ints)
    elif a.type == T.STRINGS:
        s["strings_hex"] = [x.hex() for x in a.strings]
    elif a.type == T.TENSOR:
        s["t"] = tensor_summary(a.t, base_dir)
    elif a.type == T.TENSORS:
        s["tensors"] = [tensor_summary(t, base_dir) for t in a.tensors]
    elif a.type == T.SPARSE_TENSOR:
        s["t"] = tensor_summary(dense_of_sparse(a.sparse_tensor))
    elif a.type == T.SPARSE_TENSORS:
        s["tensors"] = [tensor_summary(dense_of_sparse(x)) for x in a.sparse_tensors]
    elif a.type == T.GRAPH:
        s["g"] = graph_summary(a.g, base_dir, depth=1, outer=True)
    elif a.type == T.GRAPHS:
        s["graphs"] = [graph_summary(g, base_dir, depth=1, outer=True) for g in a.graphs]
    elif a.type == T.TYPE_PROTO:
        s["tp"] = type_summary(a.tp)
    elif a.type == T.TYPE_PROTOS:
        s["type_protos"] = [type_summary(t) for t in a.type_protos]
    return s


def node_summary(n: onnx.NodeProto, base_dir: str) -> dict:
    return {"op_type": n.op_type, "domain": "" if n.domain == "ai.onnx" else n.domain, "name": n.name,
            "inputs": list(n.input), "outputs": list(n.output),
            "attributes": [attribute_summary(a, base_dir) for a in n.attribute]}


def outer_refs(g: onnx.GraphProto) -> list[str]:
    """Names g reads (also through nested subgraphs) that g itself does not define, in first-read order."""
    defined = {vi.name for vi in g.input} | {t.name for t in g.initializer}
    defined |= {sp.values.name for sp in g.sparse_initializer}
    for n in g.node:
        defined |= {o for o in n.output if o}
    reads: list[str] = []
    for n in g.node:
        for a in n.attribute:
            subs = [a.g] if a.type == AttributeProto.GRAPH else list(a.graphs)
            for sub in subs:
                reads += outer_refs(sub)
        reads += [i for i in n.input if i]
    reads += [o.name for o in g.output]
    # Readers note names per node: the node's inputs come after its subgraphs' captures in neither order
    # that matters here, so the comparison is as a set.
    out: list[str] = []
    for r in reads:
        if r not in defined and r not in out:
            out.append(r)
    return out


def nodes_digest(g: onnx.GraphProto) -> int:
    """CRC-32 of "op(in,...)->out,...[attr:type,...];" over all nodes: large graphs are compared this way."""
    text = ""
    for n in g.node:
        attrs = ",".join(f"{a.name}:{a.type}" for a in n.attribute)
        text += f"{n.op_type}({','.join(n.input)})->{','.join(n.output)}[{attrs}];"
    return zlib.crc32(text.encode())


def graph_summary(g: onnx.GraphProto, base_dir: str, depth: int = 0, outer: bool = False) -> dict:
    inits = [tensor_summary(t, base_dir) for t in g.initializer]
    inits += [tensor_summary(dense_of_sparse(sp)) for sp in g.sparse_initializer]
    s = {"name": g.name, "inputs": [value_info_summary(v) for v in g.input],
         "outputs": [value_info_summary(v) for v in g.output],
         "value_info": [value_info_summary(v) for v in g.value_info], "initializers": inits,
         "node_count": len(g.node), "nodes_crc32": nodes_digest(g),
         "outer_refs": sorted(outer_refs(g)) if outer else []}
    if len(g.node) <= 40:
        s["nodes"] = [node_summary(n, base_dir) for n in g.node]
    return s


def model_summary(path: str, root: str, rel: str) -> dict:
    m = onnx.load(path, load_external_data=False)
    base_dir = os.path.dirname(path)
    fns = []
    for f in m.functions:
        fns.append({"name": f.name, "domain": f.domain, "inputs": list(f.input), "outputs": list(f.output),
                    "attributes": list(f.attribute) + [a.name for a in f.attribute_proto],
                    "attribute_defaults": [attribute_summary(a, base_dir) for a in f.attribute_proto],
                    "nodes": [node_summary(n, base_dir) for n in f.node],
                    "opsets": [[o.domain, o.version] for o in f.opset_import]})
    return {"root": root, "path": rel, "ir_version": m.ir_version,
            "opsets": [[o.domain, o.version] for o in m.opset_import], "producer_name": m.producer_name,
            "producer_version": m.producer_version, "domain": m.domain, "model_version": m.model_version,
            "doc_string": m.doc_string, "metadata": [[p.key, p.value] for p in m.metadata_props],
            "graph": graph_summary(m.graph, base_dir), "functions": fns}


# ---- fixtures ----

def write_node_cases(out_dir: str) -> None:
    from onnx.backend.test.case import node

    wanted = set(NODE_CASES)
    for case in node.collect_testcases():
        if case.name not in wanted:
            continue
        d = os.path.join(out_dir, case.name)
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        onnx.save(case.model, os.path.join(d, "model.onnx"))
        inputs, outputs = case.data_sets[0]
        for kind, values, infos in (("input", inputs, case.model.graph.input),
                                    ("output", outputs, case.model.graph.output)):
            for j, v in enumerate(values):
                if not infos[j].type.HasField("tensor_type"):
                    continue  # sequences and optionals are not TensorProtos
                t = v if isinstance(v, TensorProto) else numpy_helper.from_array(v, infos[j].name)
                with open(os.path.join(d, "test_data_set_0", f"{kind}_{j}.pb"), "wb") as f:
                    f.write(t.SerializeToString())


def all_features_model() -> onnx.ModelProto:
    """A model with every field the loader reads: attribute kinds, typed-field tensors, sparse data, value
    types of every kind, nested subgraphs with outer references, a local function."""
    F = TensorProto
    typed = [  # make_tensor(raw=False) stores values in the typed fields rather than raw_data
        helper.make_tensor("f32", F.FLOAT, [2, 2], [1.5, -2.0, 3.25, 0.0]),
        helper.make_tensor("f64", F.DOUBLE, [3], [1e-300, -2.5, 7.0]),
        helper.make_tensor("i64", F.INT64, [2], [-(2**62), 2**40]),
        helper.make_tensor("i32", F.INT32, [3], [-7, 0, 2**31 - 1]),
        helper.make_tensor("i16", F.INT16, [2], [-300, 300]),
        helper.make_tensor("i8", F.INT8, [3], [-128, 5, 127]),
        helper.make_tensor("u8", F.UINT8, [2], [0, 255]),
        helper.make_tensor("u16", F.UINT16, [2], [1, 65535]),
        helper.make_tensor("u32", F.UINT32, [2], [1, 2**32 - 1]),
        helper.make_tensor("u64", F.UINT64, [2], [3, 2**64 - 1]),
        helper.make_tensor("b", F.BOOL, [3], [True, False, True]),
        helper.make_tensor("h", F.FLOAT16, [2], np.array([1.5, -0.25], dtype=np.float16)),
        helper.make_tensor("bf", F.BFLOAT16, [2], np.array([1.0, -3.0], dtype=np.float32)),
        helper.make_tensor("str", F.STRING, [2], [b"hello", b"w\xc3\xb6rld"]),
        helper.make_tensor("empty", F.FLOAT, [0, 3], []),
        helper.make_tensor("scalar", F.INT64, [], [42]),
        numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "raw_f32"),
        numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "raw_i64"),
    ]
    sparse_init = helper.make_sparse_tensor(
        helper.make_tensor("sp_init", F.FLOAT, [2], [5.0, 6.0]),
        helper.make_tensor("sp_idx", F.INT64, [2], [1, 7]), [2, 4])
    sparse_attr = helper.make_sparse_tensor(
        helper.make_tensor("", F.INT32, [2], [9, 8]), helper.make_tensor("", F.INT64, [2, 2], [0, 1, 1, 0]), [2, 2])

    # Subgraphs: the then-branch reads "x" from the main graph; the else-branch holds another If whose
    # branch reads "y", so the else-branch itself must capture "y" too.
    inner = helper.make_graph([helper.make_node("Neg", ["y"], ["inner_out"])], "inner", [],
                              [helper.make_tensor_value_info("inner_out", F.FLOAT, None)])
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["then_out"])], "then_branch", [],
                               [helper.make_tensor_value_info("then_out", F.FLOAT, ["batch", 4])])
    else_g = helper.make_graph(
        [helper.make_node("If", ["cond"], ["else_out"], then_branch=inner, else_branch=inner)], "else_branch", [],
        [helper.make_tensor_value_info("else_out", F.FLOAT, None)])
    loop_body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "x"], ["v_out"]), helper.make_node("Identity", ["c_in"], ["c_out"])],
        "loop_body",
        [helper.make_tensor_value_info("i", F.INT64, []), helper.make_tensor_value_info("c_in", F.BOOL, []),
         helper.make_tensor_value_info("v_in", F.FLOAT, None)],
        [helper.make_tensor_value_info("c_out", F.BOOL, []), helper.make_tensor_value_info("v_out", F.FLOAT, None)])

    custom = helper.make_node("Everything", ["x", "", "y"], ["c0", "", "c2"], domain="test.custom", name="every",
                              doc_string="a node with every attribute kind")
    custom.attribute.extend([
        helper.make_attribute("alpha", 0.5),
        helper.make_attribute("axis", -3),
        helper.make_attribute("mode", b"\xff\x00bin"),
        helper.make_attribute("value", numpy_helper.from_array(np.array([[1, 2], [3, 4]], dtype=np.int32))),
        helper.make_attribute("body", loop_body),
        helper.make_attribute("scales", [1.0, -0.5, 3e38]),
        helper.make_attribute("pads", [0, -1, 2**40]),
        helper.make_attribute("names", [b"a", b"", b"\xc3\xa9"]),
        helper.make_attribute("pair", [numpy_helper.from_array(np.array([1.0], dtype=np.float64)),
                                       numpy_helper.from_array(np.array([True, False]))]),
        helper.make_attribute("branches", [then_g, else_g]),
        helper.make_attribute("sp", sparse_attr),
        helper.make_attribute("sps", [sparse_attr, sparse_attr]),
        helper.make_attribute("tp", helper.make_optional_type_proto(helper.make_tensor_type_proto(F.FLOAT, [2, "n"]))),
        helper.make_attribute("tps", [helper.make_sequence_type_proto(helper.make_tensor_type_proto(F.INT64, None)),
                                      helper.make_tensor_type_proto(F.UINT8, [None, 3])]),
        helper.make_attribute("empty_ints", [], attr_type=AttributeProto.INTS),
    ])
    nodes = [
        custom,
        helper.make_node("If", ["cond"], ["if_out"], then_branch=then_g, else_branch=else_g, name="branch"),
        helper.make_node("Loop", ["trip", "cond", "x"], ["loop_out"], body=loop_body),
        helper.make_node("MyFn", ["x"], ["fn_out"], domain="local", alpha=2.0),
        helper.make_node("Add", ["raw_f32", "sp_init"], ["late"], domain="ai.onnx"),
    ]
    inputs = [
        helper.make_tensor_value_info("x", F.FLOAT, ["batch", 4]),
        helper.make_tensor_value_info("y", F.FLOAT, [2, "n", None]),
        helper.make_tensor_value_info("cond", F.BOOL, []),
        helper.make_tensor_value_info("trip", F.INT64, None),
        helper.make_tensor_sequence_value_info("seq", F.FLOAT, [3]),
        helper.make_value_info("opt", helper.make_optional_type_proto(helper.make_tensor_type_proto(F.INT32, [1]))),
        helper.make_value_info("m", helper.make_map_type_proto(F.STRING, helper.make_tensor_type_proto(F.FLOAT, []))),
        helper.make_sparse_tensor_value_info("sparse_in", F.FLOAT, [5, 5]),
        helper.make_empty_tensor_value_info("untyped"),
    ]
    outputs = [helper.make_tensor_value_info("if_out", F.FLOAT, ["batch", 4]),
               helper.make_tensor_value_info("loop_out", F.FLOAT, None),
               helper.make_tensor_value_info("fn_out", F.FLOAT, ["batch", 4]),
               helper.make_tensor_value_info("late", F.FLOAT, [3, 4])]
    value_info = [helper.make_tensor_value_info("c0", F.FLOAT16, [1, "k"])]
    graph = helper.make_graph(nodes, "all_features", inputs, outputs, initializer=typed, value_info=value_info,
                              doc_string="graph doc", sparse_initializer=[sparse_init])
    fn = helper.make_function(
        "local", "MyFn", ["X"], ["Y"],
        [helper.make_node("Constant", [], ["A"], value_float=1.0),
         helper.make_node("Mul", ["X", "A"], ["XA"]),
         helper.make_node("Mul", ["XA", "X"], ["Y"])],
        [helper.make_opsetid("", 18)], attributes=["beta"],
        attribute_protos=[helper.make_attribute("alpha", 1.0)])
    fn.node[0].attribute[0].CopyFrom(helper.make_attribute_ref("value_float", AttributeProto.FLOAT,
                                                               ref_attr_name="alpha"))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("local", 1),
                                                    helper.make_opsetid("test.custom", 3)],
                              functions=[fn], producer_name="make_fixtures", producer_version="1.0",
                              doc_string="every field", model_version=7, domain="org.kiln.test")
    helper.set_model_props(model, {"author": "kiln", "license": "test"})
    return model


def torch_external_models(out_dir: str) -> list[str]:
    """A small network exported by torch.onnx.export, saved with its weights in external files: one in the
    model's folder, one in a subfolder of it."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.fc = torch.nn.Linear(8, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn(self.conv(x)))
            return self.fc(y.mean(dim=(2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    tmp = os.path.join(out_dir, "_export.onnx")
    torch.onnx.export(net, torch.randn(1, 3, 8, 8), tmp, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch", 2: "h", 3: "w"}}, opset_version=13)
    made = []
    for folder, location in (("torch_external", "weights.bin"), ("torch_external_subdir", "data/weights.bin")):
        d = os.path.join(out_dir, folder)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.join(d, location)), exist_ok=True)
        m = onnx.load(tmp)
        onnx.save_model(m, os.path.join(d, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=0)
        made.append(f"{folder}/model.onnx")
    os.remove(tmp)
    return made


def main() -> None:
    models, tensors = [], []
    node_dir = os.path.join(HERE, "node")
    shutil.rmtree(node_dir, ignore_errors=True)
    write_node_cases(node_dir)
    custom_dir = os.path.join(HERE, "custom")
    os.makedirs(custom_dir, exist_ok=True)
    onnx.save(all_features_model(), os.path.join(custom_dir, "all_features.onnx"))
    torch_models = torch_external_models(HERE)

    for rel in sorted(glob.glob("node/*/model.onnx", root_dir=HERE)) + ["custom/all_features.onnx"] + torch_models:
        models.append(model_summary(os.path.join(HERE, rel), "fixtures", rel))
    for rel in sorted(glob.glob("node/*/test_data_set_0/*.pb", root_dir=HERE)):
        t = TensorProto()
        with open(os.path.join(HERE, rel), "rb") as f:
            t.ParseFromString(f.read())
        tensors.append({"root": "fixtures", "path": rel, **tensor_summary(t)})
    for kind in VENV_KINDS:
        for rel in sorted(glob.glob(f"{kind}/**/*.onnx", root_dir=VENV_DATA, recursive=True)):
            models.append(model_summary(os.path.join(VENV_DATA, rel), "venv", rel))
        for rel in sorted(glob.glob(f"{kind}/**/*.pb", root_dir=VENV_DATA, recursive=True)):
            t = TensorProto()
            with open(os.path.join(VENV_DATA, rel), "rb") as f:
                t.ParseFromString(f.read())
            tensors.append({"root": "venv", "path": rel, **tensor_summary(t)})
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump({"onnx_version": onnx.__version__, "models": models, "tensors": tensors}, f, indent=None,
                  separators=(",", ":"))
        f.write("\n")
    print(f"{len(models)} models, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
