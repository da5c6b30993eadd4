"""Multiply-accumulates of a model's GEMM-class work: Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU.

Shapes come from one ONNX Runtime run at the benchmark's input shapes (optimizations off, every needed
intermediate requested as an output), so they are exact wherever onnx's static shape inference would give
up (sizes computed with Shape/Gather/Concat at run time). GFLOP/s figures count 2 flops per MAC.
"""
from __future__ import annotations

import json
import math
import pathlib

COUNTED = ("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU")


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return a.i
    return default


def _node_macs(node, shape) -> int:
    op, ins, outs = node.op_type, node.input, node.output
    if op == "Conv":  # Y [N, M, out...], W [M, C/group, k...]
        y, w = shape(outs[0]), shape(ins[1])
        return y[0] * y[1] * math.prod(y[2:]) * math.prod(w[1:])
    if op == "ConvTranspose":  # X [N, C, in...], W [C, M/group, k...]: each input pixel scatters a filter
        x, w = shape(ins[0]), shape(ins[1])
        return x[0] * x[1] * math.prod(x[2:]) * math.prod(w[1:])
    if op == "Gemm":
        a, y = shape(ins[0]), shape(outs[0])
        k = a[0] if _attr(node, "transA", 0) else a[1]
        return math.prod(y) * k
    if op == "MatMul":
        a, y = shape(ins[0]), shape(outs[0])
        return math.prod(y) * a[-1]
    if op in ("LSTM", "GRU"):  # every step: the gates' input and recurrent GEMMs of every direction
        x, w, r = shape(ins[0]), shape(ins[1]), shape(ins[2])
        return x[0] * x[1] * (math.prod(w) + math.prod(r))
    return 0


def count_macs(model_path: pathlib.Path, feeds: dict) -> dict:
    """Returns {"total": MACs, "by_op": {op_type: MACs}} for one run on `feeds` (name -> numpy array)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    graph = model.graph
    known = {i.name: tuple(i.dims) for i in graph.initializer}
    known.update({name: tuple(a.shape) for name, a in feeds.items()})
    nodes = [n for n in graph.node if n.op_type in COUNTED]
    wanted = sorted({v for n in nodes for v in (*n.input, *n.output) if v and v not in known})
    outputs = {o.name for o in graph.output}
    graph.output.extend(onnx.ValueInfoProto(name=v) for v in wanted if v not in outputs)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for name, value in zip(names, session.run(names, feeds)):
        known[name] = tuple(value.shape)
    by_op = {}
    for n in nodes:
        by_op[n.op_type] = by_op.get(n.op_type, 0) + _node_macs(n, lambda v: known[v])
    return {"total": sum(by_op.values()), "by_op": by_op}


def cached_macs(model_path: pathlib.Path, key: str, batch: int, feeds_loader) -> dict:
    """count_macs, cached beside the model per batch (invalidated with the model's export key)."""
    cache = model_path.with_name(model_path.name + ".macs.json")
    data = json.loads(cache.read_text()) if cache.is_file() else {}
    if data.get("key") != key:
        data = {"key": key, "batches": {}}
    if str(batch) not in data["batches"]:
        data["batches"][str(batch)] = count_macs(model_path, feeds_loader())
        cache.write_text(json.dumps(data, indent=1))
    return data["batches"][str(batch)]
