"""kiln compare MODEL: run kiln and a reference on the same inputs and report, per output, how far apart they are.

    kiln compare model.onnx [--input NAME=FILE]... [--shape NAME=DIMS]... [--seed N]
                 [--reference onnxruntime | OUTPUTS.npz | FOLDER] [--atol A] [--rtol R] [--json]
                 [--layerwise [--chunk N]]

The reference is onnxruntime (CPU) by default, or outputs saved earlier: an .npz of arrays named after the
outputs, or a folder of <output>.npy / <output>.pb (TensorProto) files. Inputs are the files given, the rest
random from --seed. Exit status 0 when every output is within tolerance, 1 when one is not, 2 on an error.

--layerwise compares every intermediate tensor of the main graph, in topological order, against onnxruntime and
reports the first that diverges: the values are marked as outputs --chunk at a time (default 32), so at most
that many are held at once.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .. import _kiln
from ..options import GraphOptimizationLevel, SessionOptions
from ..session import InferenceSession
from .feeds import make_feeds, parse_pairs, read_array
from .stats import compare_arrays, format_report

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


def parse_args(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kiln compare", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="the ONNX model")
    p.add_argument("--input", action="append", default=[], metavar="NAME=FILE", help=".npy or TensorProto .pb")
    p.add_argument("--inputs", metavar="FILE.npz", help="inputs saved together (--save-inputs, kiln reduce)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="sizes of a random input, e.g. input=1x3x224x224 (free dims are 1 otherwise)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--reference", default="onnxruntime",
                   help="onnxruntime (default), an .npz of saved outputs, or a folder of <output>.npy/.pb files")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    p.add_argument("--threads", type=int, default=0, help="kiln's threads (0: every usable CPU)")
    p.add_argument("--no-optimize", action="store_true", help="run kiln without its graph passes")
    p.add_argument("--save-inputs", metavar="FILE.npz", help="write the inputs used")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")
    p.add_argument("--layerwise", action="store_true", help="compare every intermediate tensor (onnxruntime)")
    p.add_argument("--chunk", type=int, default=32, help="--layerwise: tensors compared per pass (default 32)")
    return p.parse_args(argv)


def kiln_options(args: argparse.Namespace) -> SessionOptions:
    o = SessionOptions()
    o.intra_op_num_threads = args.threads
    o.log_severity_level = 3
    if args.no_optimize:
        o.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
    return o


def ort_session(model: Any) -> Any:
    import onnxruntime as ort
    o = ort.SessionOptions()
    o.log_severity_level = 3
    return ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])


def reference_outputs(args: argparse.Namespace, names: List[str], feeds: Dict[str, np.ndarray]) -> Tuple[Dict[str, Any], str]:
    ref = args.reference
    if ref == "onnxruntime":
        import onnxruntime as ort
        session = ort_session(args.model)
        return dict(zip(names, session.run(names, feeds))), f"onnxruntime {ort.__version__}"
    path = pathlib.Path(ref)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as saved:
            return {n: saved[n] for n in names if n in saved.files}, str(path)
    if path.is_dir():
        out: Dict[str, Any] = {}
        for n in names:
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in n)
            for f in (path / f"{safe}.npy", path / f"{safe}.pb"):
                if f.exists():
                    out[n] = read_array(f)
                    break
        return out, str(path)
    raise ValueError(f"--reference {ref}: give onnxruntime, an .npz file or a folder of saved outputs")


def compare_outputs(args: argparse.Namespace) -> Dict[str, Any]:
    session = InferenceSession(args.model, kiln_options(args))
    files = parse_pairs(args.input, "--input")
    feeds = make_feeds(session.get_inputs(), files, parse_pairs(args.shape, "--shape"), args.seed,
                       npz=args.inputs)
    if args.save_inputs:
        np.savez(args.save_inputs, **feeds)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(names, feeds)))
    want, ref_name = reference_outputs(args, names, feeds)
    outputs = []
    for n in names:
        if n not in want:
            outputs.append({"name": n, "passed": False, "shape": list(np.shape(got[n])), "dtype": str(got[n].dtype),
                            "error": f"the reference {ref_name} has no output '{n}'"})
        else:
            outputs.append(compare_arrays(n, got[n], want[n], args.atol, args.rtol))
    return {"model": args.model, "reference": ref_name, "atol": args.atol, "rtol": args.rtol, "seed": args.seed,
            "inputs": [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype), "source": files.get(k, "random")}
                       for k, v in feeds.items()],
            "outputs": outputs, "passed": all(o["passed"] for o in outputs)}


def print_outputs_report(report: Dict[str, Any]) -> None:
    print(f"kiln compare {report['model']}  (reference: {report['reference']})")
    print("inputs: " + "; ".join(f"{i['name']}={i['source']} [{','.join(map(str, i['shape']))}] {i['dtype']}"
                                 for i in report["inputs"]))
    for o in report["outputs"]:
        print("\n".join(format_report(o, report["atol"], report["rtol"])))
    passed = sum(o["passed"] for o in report["outputs"])
    verdict = "PASS" if report["passed"] else "FAIL"
    print(f"{verdict}: {passed} of {len(report['outputs'])} outputs within atol {report['atol']:g} / rtol "
          f"{report['rtol']:g}")


def _strict_json(x: Any) -> Any:
    """The report with inf/NaN figures as null, so strict JSON readers take it."""
    if isinstance(x, float) and not np.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _strict_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_strict_json(v) for v in x]
    return x


def main(argv: List[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return EXIT_ERROR if e.code else EXIT_PASS
    try:
        if args.layerwise:
            from .layerwise import compare_layerwise, print_layerwise_report
            report = compare_layerwise(args)
            printer = print_layerwise_report
        else:
            report = compare_outputs(args)
            printer = print_outputs_report
    except (ValueError, OSError, _kiln.Fail, _kiln.InvalidArgument, _kiln.NoSuchFile, _kiln.InvalidGraph,
            _kiln.InvalidProtobuf, _kiln.NotImplemented, _kiln.RuntimeException) as e:
        hint = ""
        if not args.shape and not args.input and not args.inputs:
            hint = (" (random inputs had every free dim set to 1; give sizes with --shape NAME=DIMS, e.g. "
                    "--shape input=1x3x224x224)")
        if args.json:
            print(json.dumps({"model": args.model, "error": f"{type(e).__name__}: {e}{hint}"}))
        print(f"kiln compare: error: {type(e).__name__}: {e}{hint}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(_strict_json(report), indent=1))
    else:
        printer(report)
    return EXIT_PASS if report["passed"] else EXIT_FAIL
