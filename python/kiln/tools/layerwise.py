"""kiln compare --layerwise: every intermediate tensor of the main graph, kiln against onnxruntime, in
topological order, until the first one that diverges.

The values are marked as the model's outputs a chunk at a time (the model's own outputs dropped, so each pass
runs only what the chunk needs); at most a chunk of tensors per runtime is held at once, never the whole graph's.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from ..session import InferenceSession
from .feeds import make_feeds, parse_pairs
from .stats import compare_arrays, format_report


def graph_values(model: Any) -> List[Tuple[str, Any, Any]]:
    """(value name, producing node, inferred ValueInfo or None) for every node output of the main graph, in topological order."""
    import onnx
    inferred = onnx.shape_inference.infer_shapes(model)
    typed = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    out = []
    for node in model.graph.node:  # ONNX requires nodes in topological order
        for name in node.output:
            if name:
                out.append((name, node, typed.get(name)))
    return out


def with_outputs(model: Any, values: List[Tuple[str, Any, Any]]) -> bytes:
    import onnx
    from onnx import helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    for name, _, info in values:
        if info is not None and info.type.HasField("tensor_type"):
            m.graph.output.append(info)
        else:
            m.graph.output.append(helper.make_empty_tensor_value_info(name))
    return m.SerializeToString()


def compare_layerwise(args: argparse.Namespace) -> Dict[str, Any]:
    import onnx
    import onnxruntime as ort

    from .compare import kiln_options, ort_session
    if args.reference != "onnxruntime":
        raise ValueError("--layerwise compares with onnxruntime; saved outputs hold only the model's outputs")
    model = onnx.load(args.model)
    base = InferenceSession(args.model, kiln_options(args))
    files = parse_pairs(args.input, "--input")
    feeds = make_feeds(base.get_inputs(), files, parse_pairs(args.shape, "--shape"), args.seed, npz=args.inputs)
    values = graph_values(model)
    chunk = max(1, args.chunk)
    compared: List[Dict[str, Any]] = []
    first_bad: Dict[str, Any] = {}
    start = time.monotonic()
    for at in range(0, len(values), chunk):
        part = values[at:at + chunk]
        data = with_outputs(model, part)
        names = [n for n, _, _ in part]
        got = InferenceSession(data, kiln_options(args)).run(names, feeds)
        want = ort_session(data).run(names, feeds)
        for (name, node, _), g, w in zip(part, got, want):
            r = compare_arrays(name, g, w, args.atol, args.rtol)
            r["node"] = node.name
            r["op_type"] = node.op_type
            compared.append({k: r[k] for k in ("name", "node", "op_type", "passed")})
            if not r["passed"]:
                first_bad = r
                break
        del got, want
        if first_bad:
            break
    return {"model": args.model, "reference": f"onnxruntime {ort.__version__}", "atol": args.atol,
            "rtol": args.rtol, "seed": args.seed, "layerwise": True, "tensors": len(values),
            "compared": len(compared), "first_divergence": first_bad or None, "passed": not first_bad,
            "seconds": round(time.monotonic() - start, 3),
            "inputs": [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype), "source": files.get(k, "random")}
                       for k, v in feeds.items()]}


def print_layerwise_report(report: Dict[str, Any]) -> None:
    print(f"kiln compare --layerwise {report['model']}  (reference: {report['reference']})")
    bad = report["first_divergence"]
    if bad is None:
        print(f"PASS: all {report['tensors']} intermediate tensors within atol {report['atol']:g} / rtol "
              f"{report['rtol']:g}")
        return
    print(f"FAIL: the first tensor that diverges, in topological order ({report['compared']} of "
          f"{report['tensors']} compared; every earlier one is within tolerance):")
    print(f"  node '{bad['node']}' ({bad['op_type']}) output:")
    print("\n".join("  " + line for line in format_report(bad, report["atol"], report["rtol"])))
