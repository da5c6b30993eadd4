#!/usr/bin/env python3
"""Builds the fuzz seed corpus (fuzz/corpus): one small model per ONNX op from the generated node tests, plus
models with subgraphs, external-data references and symbolic dims, so the fuzzer starts from inputs that reach
deep into the reader, validation, inference and kernels.

    .venv/bin/python fuzz/make_corpus.py build/conformance-data/node fuzz/corpus [build/kiln]

With the kiln tool given, a few seeds are also built into engines (`kiln build`, engine_*.kiln), so the fuzzer
starts inside the engine reader too (fuzz_one.h reads engine sections with and without checksums).
"""
import subprocess
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

MAX_BYTES = 4096


def first_op(model_path):
    m = onnx.load(model_path, load_external_data=False)
    return m.graph.node[0].op_type if m.graph.node else None


def main():
    node_dir, out = sys.argv[1], sys.argv[2]
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    seen = set()
    for case in sorted(os.listdir(node_dir)):
        path = os.path.join(node_dir, case, "model.onnx")
        if not os.path.exists(path) or os.path.getsize(path) > MAX_BYTES:
            continue
        op = first_op(path)
        if op in seen:
            continue
        seen.add(op)
        shutil.copy(path, os.path.join(out, f"{case}.onnx"))
    # A model whose initializer points at external data (the reader must confine it to the model's folder).
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "8")):
        e = t.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "ext",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])], [t])
    with open(os.path.join(out, "external_data_escape.onnx"), "wb") as f:
        f.write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    if len(sys.argv) > 3:
        build_engine_seeds(sys.argv[3], out)
    print(f"make_corpus: {len(os.listdir(out))} seeds in {out}")


ENGINE_SEEDS = {  # seed model -> kiln build profile flags (a dynamic dim, so the profile section has a range)
    "dynamic_add.onnx": ["--min", "x=1", "--opt", "x=4", "--max", "x=8"],
    "dense_matmul.onnx": ["--min", "x=1x64", "--opt", "x=2x64", "--max", "x=4x64"],  # packed weights sections
    "test_add.onnx": [],
    "test_relu.onnx": [],
}


def build_engine_seeds(kiln, out):
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "dyn",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])])
    dynamic = os.path.join(out, "dynamic_add.onnx")
    with open(dynamic, "wb") as f:
        f.write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    # x [n, 64] · W [64, 64]: W (16 KiB) is packed, and moved out of the model section as a raw weight (fuzz.sh reads
    # inputs up to 64 KiB).
    w = helper.make_tensor("W", TensorProto.FLOAT, [64, 64],
                           ((np.arange(64 * 64, dtype=np.float32) % 7) / 7).tobytes(), raw=True)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "dense",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])], [w])
    with open(os.path.join(out, "dense_matmul.onnx"), "wb") as f:
        f.write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    for seed, flags in ENGINE_SEEDS.items():
        engine = os.path.join(out, "engine_" + seed.replace(".onnx", ".kiln"))
        subprocess.run([kiln, "build", os.path.join(out, seed), "-o", engine, "--runs", "0"] + flags, check=True,
                       stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
