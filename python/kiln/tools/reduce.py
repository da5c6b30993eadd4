"""kiln reduce MODEL: shrink a model whose outputs on kiln differ from onnxruntime's (or which kiln fails to run)
to the smallest subgraph that still fails, and write it as ONNX (Polygraphy's `debug reduce`).

    kiln reduce model.onnx [-o reduced.onnx] [--input NAME=FILE]... [--shape NAME=DIMS]... [--seed N]
                [--atol A] [--rtol R] [--no-optimize] [--json]

1. The first tensor, in topological order, where kiln diverges from onnxruntime (or fails) is found as
   `kiln compare --layerwise` finds it, a chunk of tensors at a time.
2. The node that produces it is cut out with its inputs as the subgraph's inputs (fed the values onnxruntime
   computed for them on the whole model). If that single node does not fail alone (the fault needs its
   context, e.g. a fusion), the subgraph grows by the producers of its inputs, one level at a time, until it
   fails; the last resort is everything from the graph inputs to that tensor.
3. The subgraph is written with its inputs (<output>.inputs.npz), so `kiln compare reduced.onnx --input ...`
   shows the failure again. Exit status 0: the model does not fail (nothing to reduce); 1: reduced; 2: error.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any, Dict, List, Optional, Set, Tuple

import numpy as np

from ..session import InferenceSession
from .compare import kiln_options, ort_session
from .feeds import make_feeds, parse_pairs
from .layerwise import graph_values, with_outputs
from .stats import compare_arrays


def parse_args(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kiln reduce", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("-o", "--output", default="reduced.onnx", help="the reduced model (default reduced.onnx)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=FILE")
    p.add_argument("--inputs", metavar="FILE.npz", help="inputs saved together (--save-inputs, kiln reduce)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-optimize", action="store_true", help="run kiln without its graph passes")
    p.add_argument("--chunk", type=int, default=32, help="tensors compared per pass while searching")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def fails(args: argparse.Namespace, model_bytes: bytes, feeds: Dict[str, np.ndarray],
          names: List[str]) -> Tuple[bool, str]:
    """Whether kiln fails on the model (an error, or an output beyond tolerance), and why."""
    try:
        got = InferenceSession(model_bytes, kiln_options(args)).run(names, feeds)
    except Exception as e:  # noqa: BLE001 - any kiln failure is the failure being reduced
        return True, f"kiln fails: {type(e).__name__}: {str(e).splitlines()[0]}"
    want = ort_session(model_bytes).run(names, feeds)
    for n, g, w in zip(names, got, want):
        r = compare_arrays(n, g, w, args.atol, args.rtol)
        if not r["passed"]:
            return True, f"'{n}' differs: max abs error {r.get('abs', {}).get('max', float('nan')):.3e}"
    return False, ""


def first_failing(args: argparse.Namespace, model: Any, feeds: Dict[str, np.ndarray]) -> Optional[Tuple[str, Any, str]]:
    """(value, producing node, why) of the first tensor in topological order where kiln fails, or None."""
    values = graph_values(model)
    chunk = max(1, args.chunk)
    for at in range(0, len(values), chunk):
        part = values[at:at + chunk]
        data = with_outputs(model, part)
        names = [n for n, _, _ in part]
        try:
            got = InferenceSession(data, kiln_options(args)).run(names, feeds)
        except Exception:  # noqa: BLE001 - kiln fails on this chunk: find the value one at a time
            for one in part:
                bad, why = fails(args, with_outputs(model, [one]), feeds, [one[0]])
                if bad:
                    return one[0], one[1], why
            continue
        want = ort_session(data).run(names, feeds)
        for (name, node, _), g, w in zip(part, got, want):
            r = compare_arrays(name, g, w, args.atol, args.rtol)
            if not r["passed"]:
                return name, node, f"'{name}' differs: max abs error {r.get('abs', {}).get('max', float('nan')):.3e}"
    return None


def reference_values(model: Any, names: List[str], feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """onnxruntime's values of `names` (graph inputs are taken from the feeds)."""
    graph_inputs = {i.name for i in model.graph.input}
    computed = [n for n in names if n not in graph_inputs]
    out = {n: feeds[n] for n in names if n in graph_inputs}
    if computed:
        data = with_outputs(model, [(n, None, None) for n in computed])
        out.update(zip(computed, ort_session(data).run(computed, feeds)))
    return out


def subgraph(model: Any, nodes: List[Any], outputs: List[str]) -> Tuple[Any, List[str]]:
    """The model cut to `nodes`: values they read that none of them makes (and that are not initializers)
    become inputs."""
    import onnx
    from onnx import helper
    made: Set[str] = {o for n in nodes for o in n.output}
    inits = {i.name for i in model.graph.initializer}
    inputs: List[str] = []
    for n in nodes:
        for i in n.input:
            if i and i not in made and i not in inits and i not in inputs:
                inputs.append(i)
    inferred = onnx.shape_inference.infer_shapes(model)
    typed = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.input) +
             list(inferred.graph.output)}
    used = {i for n in nodes for i in n.input}

    def info(name: str) -> Any:
        return typed[name] if name in typed else helper.make_empty_tensor_value_info(name)

    g = helper.make_graph([n for n in model.graph.node if n in nodes], f"{model.graph.name}_reduced",
                          [info(i) for i in inputs], [info(o) for o in outputs],
                          [t for t in model.graph.initializer if t.name in used])
    m = helper.make_model(g, opset_imports=list(model.opset_import), ir_version=model.ir_version,
                          producer_name="kiln reduce")
    return m, inputs


def reduce_model(args: argparse.Namespace) -> Dict[str, Any]:
    import onnx
    model = onnx.load(args.model)
    base = InferenceSession(args.model, kiln_options(args))
    feeds = make_feeds(base.get_inputs(), parse_pairs(args.input, "--input"), parse_pairs(args.shape, "--shape"),
                       args.seed, npz=args.inputs)
    outputs = [o.name for o in base.get_outputs()]
    bad, why = fails(args, model.SerializeToString(), feeds, outputs)
    if not bad:
        return {"model": args.model, "fails": False, "reduced": None}
    found = first_failing(args, model, feeds)
    if found is None:
        return {"model": args.model, "fails": True, "why": why, "reduced": None,
                "note": "no single intermediate tensor diverges; the whole model is the smallest failing graph"}
    value, node, why = found
    producers = {o: n for n in model.graph.node for o in n.output}
    order = {id(n): i for i, n in enumerate(model.graph.node)}
    nodes = [node]
    while True:
        sub, inputs = subgraph(model, nodes, [value])
        sub_feeds = reference_values(model, inputs, feeds)
        sub_bad, sub_why = fails(args, sub.SerializeToString(), sub_feeds, [value])
        if sub_bad:
            break
        grow = [producers[i] for i in inputs if i in producers and producers[i] not in nodes]
        if not grow:
            break  # everything up to the graph inputs: as small as the search can make it
        nodes = sorted({id(n): n for n in nodes + grow}.values(), key=lambda n: order[id(n)])
    out = pathlib.Path(args.output)
    onnx.save(sub, str(out))
    inputs_file = out.with_suffix(".inputs.npz")
    np.savez(inputs_file, **sub_feeds)
    return {"model": args.model, "fails": True, "why": why, "reduced": str(out), "inputs_file": str(inputs_file),
            "first_failing_tensor": value, "node": node.name, "op_type": node.op_type,
            "nodes": [n.name for n in nodes], "subgraph_fails": sub_bad, "subgraph_why": sub_why,
            "inputs": {k: list(v.shape) for k, v in sub_feeds.items()}}


def main(argv: List[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        report = reduce_model(args)
    except Exception as e:  # noqa: BLE001 - reported, exit 2
        print(f"kiln reduce: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=1))
    elif not report["fails"]:
        print(f"{args.model}: kiln agrees with onnxruntime (atol {args.atol:g}, rtol {args.rtol:g}); nothing to reduce")
    elif report["reduced"] is None:
        print(f"{args.model}: fails ({report['why']}); {report['note']}")
    else:
        print(f"{args.model}: {report['why']}")
        print(f"first failing tensor '{report['first_failing_tensor']}', made by node '{report['node']}' "
              f"({report['op_type']})")
        print(f"wrote {report['reduced']}: {len(report['nodes'])} node(s) {report['nodes']}, inputs "
              f"{report['inputs']} in {report['inputs_file']}")
        print(f"reproduce: kiln compare {report['reduced']} --inputs {report['inputs_file']}")
    return 0 if not report["fails"] else 1
