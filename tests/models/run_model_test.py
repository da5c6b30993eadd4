#!/usr/bin/env python3
"""Runs one model of the suite through `kiln run` and compares every output with onnxruntime.

    python run_model_test.py --kiln PATH --model NAME --cache DIR

Exports the model into DIR if it is not there yet (export_models.py), then for each of the model's input
sizes (model_zoo.py): makes seeded random inputs with numpy, saves them as .npy, runs

    KILN run MODEL --input NAME=FILE.npy ... --output-dir OUT

runs onnxruntime (CPUExecutionProvider) on the same arrays, and compares each output that kiln wrote as
OUT/<output name>.npy (characters outside [A-Za-z0-9._-] replaced by '_'). Float outputs must agree to a
relative L2 error ||kiln - ort|| / max(||ort||, tiny) <= 1e-5; integer and bool outputs must be equal.
kiln runs twice per size: with its graph passes (the default) and with --no-optimize; both must agree with
onnxruntime, so a pass that changes what a model computes fails here. A third run per size loads an engine that
`kiln build` made once with a profile holding every size (batch 1..8): it must agree too. `kiln optimize -o` must write standard
ONNX (no kiln-only op, onnx.checker passes) that onnxruntime runs to the same outputs within rel-L2 1e-6: once
as exported (every size), once with the first size fixed by --shape (which folds the exporter's shape chains).
Exit status 0 when every output of every size agrees, 1 on any mismatch, kiln failure or export failure.
"""
import argparse
import pathlib
import re
import shutil
import json
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import model_zoo  # noqa: E402

REL_L2_LIMIT = 1e-5
OPTIMIZED_REL_L2_LIMIT = 1e-6  # `kiln optimize` output on onnxruntime against the model as exported
TINY = 1e-30  # floor for ||ort|| so an all-zero reference output still gives a finite relative error
SEED = 1234


def output_file_name(name: str) -> str:
    """The file kiln writes an output to, by the CLI contract."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy"


def make_inputs(spec: model_zoo.ModelSpec, case: dict, rng: np.random.Generator) -> dict:
    feeds = {}
    for inp in spec.inputs:
        shape = case[inp.name]
        if inp.kind == "tokens":
            feeds[inp.name] = rng.integers(0, model_zoo.VOCAB, size=shape, dtype=np.int64)
        elif inp.kind == "mask":
            # Ones then zeros (padding at the end), at least one real token per row: a row with every key
            # masked gives softmax over -inf only, NaN in any engine.
            batch, seq = shape
            lengths = rng.integers(1, seq + 1, size=batch)
            lengths[0] = seq  # one row unpadded
            feeds[inp.name] = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
        else:
            feeds[inp.name] = rng.standard_normal(size=shape).astype(np.float32)
    return feeds


def compare(name: str, got: np.ndarray, want: np.ndarray, limit: float = REL_L2_LIMIT) -> tuple:
    """Returns (ok, one line of figures) for one output."""
    head = f"{name}: shape {list(want.shape)} {want.dtype}"
    if got.shape != want.shape or got.dtype != want.dtype:
        return False, f"{head}; kiln gave shape {list(got.shape)} {got.dtype}  MISMATCH"
    if not np.issubdtype(want.dtype, np.floating):
        wrong = int(np.count_nonzero(got != want))
        return wrong == 0, f"{head}  exact: {wrong} of {want.size} elements differ  {'ok' if wrong == 0 else 'MISMATCH'}"
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    # NaN and inf must appear in the same places with the same value; the L2 figure covers the rest.
    g_bad, w_bad = ~np.isfinite(g), ~np.isfinite(w)
    same_nonfinite = np.array_equal(g_bad, w_bad) and np.array_equal(g[g_bad], w[w_bad], equal_nan=True)
    finite = ~w_bad & ~g_bad
    diff = g[finite] - w[finite]
    rel = float(np.linalg.norm(diff) / max(float(np.linalg.norm(w[finite])), TINY))
    max_abs = float(np.max(np.abs(diff))) if diff.size else 0.0
    ok = same_nonfinite and rel <= limit
    note = "" if same_nonfinite else f"  non-finite values differ ({int(g_bad.sum())} in kiln, {int(w_bad.sum())} in ort)"
    return ok, f"{head}  rel_l2 {rel:.3e}  max_abs {max_abs:.3e}{note}  {'ok' if ok else 'MISMATCH'}"


def run_ort(model: pathlib.Path, feeds: dict) -> dict:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # CI runs two tests at once on two cores
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


# Each case runs kiln once per variant: (label, extra `kiln run` arguments).
KILN_VARIANTS = (("optimized", []), ("unoptimized", ["--no-optimize"]))


def run_kiln(kiln: str, model: pathlib.Path, input_files: dict, out_dir: pathlib.Path, extra: list) -> tuple:
    """Runs `kiln run`; returns (ok, seconds, what to show when it failed)."""
    cmd = [kiln, "run", str(model)] + extra
    for name, path in input_files.items():
        cmd += ["--input", f"{name}={path}"]
    cmd += ["--output-dir", str(out_dir)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return False, 0.0, f"cannot start kiln: {e}"
    seconds = time.monotonic() - start
    if proc.returncode == 0:
        return True, seconds, ""
    shown = [f"kiln failed (exit status {proc.returncode}): {' '.join(cmd)}"]
    if proc.stderr.strip():
        shown.append("kiln stderr:\n" + proc.stderr.rstrip())
    if proc.stdout.strip():
        shown.append("kiln stdout:\n" + proc.stdout.rstrip())
    return False, seconds, "\n".join(shown)


def run_case(args, spec, model: pathlib.Path, index: int, case: dict) -> bool:
    sizes = ", ".join(f"{n}={'x'.join(map(str, s))}" for n, s in case.items())
    print(f"case {index}: {sizes}")
    work = args.cache / "runs" / spec.name / f"case{index}"
    in_dir = work / "inputs"
    shutil.rmtree(work, ignore_errors=True)  # no stale outputs from an earlier run may pass for kiln's
    in_dir.mkdir(parents=True)
    feeds = make_inputs(spec, case, np.random.default_rng(SEED + index))
    files = {}
    for name, array in feeds.items():
        files[name] = in_dir / output_file_name(name)
        np.save(files[name], array)

    reference = run_ort(model, feeds)
    all_ok = True
    variants = [(label, model, extra) for label, extra in KILN_VARIANTS] + [("engine", args.engine, [])]
    for label, runs, extra in variants:
        out_dir = work / f"kiln-out-{label}"
        out_dir.mkdir()
        ok, seconds, failure = run_kiln(args.kiln, runs, files, out_dir, extra)
        if not ok:
            print(failure)
            all_ok = False
            continue
        print(f"  kiln run ({label}) took {seconds:.2f} s")
        for name, want in reference.items():
            path = out_dir / output_file_name(name)
            if not path.is_file():
                print(f"    {name}: kiln wrote no {path.name}  MISMATCH")
                all_ok = False
                continue
            ok, line = compare(name, np.load(path, allow_pickle=False), want)
            print("    " + line)
            all_ok &= ok
    all_ok &= steady_state_allocates_nothing(args.kiln, model, files)
    if index == 1:
        # ONNX Runtime optimizes a model with fixed input sizes differently (other conv algorithms: rel-L2 1.6e-6
        # on EfficientNet-b0 from ORT alone), so the reference for the fixed-size output is the model as exported
        # with the same sizes written into its inputs.
        fixed = [f"--shape={name}={'x'.join(map(str, dims))}" for name, dims in case.items()]
        fixed_reference = run_ort(with_fixed_inputs(model, case, work / "exported-fixed.onnx"), feeds)
        all_ok &= optimized_onnx_agrees(args.kiln, model, work / "optimized-fixed.onnx", fixed, feeds,
                                        fixed_reference)
    all_ok &= optimized_onnx_agrees(args.kiln, model, work / "optimized.onnx", [], feeds, reference)
    return all_ok


def with_fixed_inputs(model: pathlib.Path, case: dict, out: pathlib.Path) -> pathlib.Path:
    """A copy of the model whose inputs declare the case's sizes instead of their symbols."""
    import onnx
    m = onnx.load(str(model))
    for inp in m.graph.input:
        if inp.name in case:
            for dim, size in zip(inp.type.tensor_type.shape.dim, case[inp.name]):
                dim.dim_value = size
    onnx.save(m, str(out))
    return out


def optimized_onnx_agrees(kiln: str, model: pathlib.Path, out: pathlib.Path, extra: list, feeds: dict,
                          reference: dict) -> bool:
    """`kiln optimize MODEL -o OUT` (issue 9, item 6): standard ONNX that onnxruntime loads and runs to the outputs
    of the model as exported."""
    import onnx
    cmd = [kiln, "optimize", str(model), "-o", str(out), "--json"] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  kiln optimize failed (exit status {proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}  MISMATCH")
        return False
    report = json.loads(proc.stdout)
    written = onnx.load(str(out))
    try:
        onnx.checker.check_model(written)
    except onnx.checker.ValidationError as e:
        print(f"  kiln optimize {' '.join(extra)} wrote a model onnx.checker refuses: {e}  MISMATCH")
        return False
    foreign = sorted({n.domain for n in written.graph.node} - {"", "ai.onnx"})
    if foreign:
        print(f"  kiln optimize {' '.join(extra)} wrote ops of domains {foreign}: not standard ONNX  MISMATCH")
        return False
    print(f"  kiln optimize {' '.join(extra)}: {report['nodes_before']} -> {report['nodes_after']} nodes; on onnxruntime:")
    got = run_ort(out, feeds)
    ok = True
    for name, want in reference.items():
        if name not in got:
            print(f"    {name}: missing from the optimized model's outputs  MISMATCH")
            ok = False
            continue
        same, line = compare(name, got[name], want, OPTIMIZED_REL_L2_LIMIT)
        print("    " + line)
        ok &= same
    return ok


def steady_state_allocates_nothing(kiln: str, model: pathlib.Path, input_files: dict) -> bool:
    """`kiln bench` times runs of a Binding: at a fixed shape, a run after the first makes no heap allocation
    (issue 8, item 7). One thread, because with a pool each thread's scratch grows the first time that thread
    takes a task needing more, and which thread takes which task varies from run to run (so a few growths can
    come later than the second run; the unit test Binding.ASteadyStateRunMakesNoHeapAllocation covers a pool).
    Null counts (a build that cannot count) pass."""
    cmd = [kiln, "bench", str(model), "--runs", "2", "--warmup", "1", "--threads", "1", "--json"]
    cmd += [f"--input={name}={path}" for name, path in input_files.items()]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  kiln bench failed (exit status {proc.returncode}): {proc.stderr.strip()}  MISMATCH")
        return False
    allocs = json.loads(proc.stdout)["allocations_per_run"]
    ok = allocs is None or allocs["max_calls"] == 0
    print(f"  steady-state heap allocations per run: {allocs}{'' if ok else '  MISMATCH (expected none)'}")
    return ok


def engine_profile_flags(spec) -> list:
    """`kiln build` flags for one profile holding every case: a dynamic dim ranges over the cases' sizes, and
    the batch (dim 0, when dynamic) over 1..8, the range issue 9 asks engines to serve."""
    flags = []
    for inp in spec.inputs:
        shapes = [case[inp.name] for case in spec.cases]
        lo = [min(s[d] for s in shapes) for d in range(len(shapes[0]))]
        hi = [max(s[d] for s in shapes) for d in range(len(shapes[0]))]
        if 0 in inp.axes:
            lo[0], hi[0] = 1, max(8, hi[0])
        dims = lambda v: "x".join(map(str, v))  # noqa: E731
        flags += ["--min", f"{inp.name}={dims(lo)}", "--opt", f"{inp.name}={dims(shapes[0])}",
                  "--max", f"{inp.name}={dims(hi)}"]
    return flags


def build_engine(kiln: str, spec, model: pathlib.Path, cache: pathlib.Path):
    """`kiln build` of the model with a profile over every case (issue 9): every case then runs from the engine
    too and must agree with onnxruntime like the ONNX file. Returns the engine's path, or None on failure."""
    engine = cache / "runs" / spec.name / "model.kiln"
    engine.parent.mkdir(parents=True, exist_ok=True)
    cmd = [kiln, "build", str(model), "-o", str(engine), "--runs", "1"] + engine_profile_flags(spec)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"kiln build failed (exit status {proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}  MISMATCH")
        return None
    print("kiln build: " + "; ".join(line.strip() for line in proc.stdout.splitlines()))
    return engine


def main() -> int:
    parser = argparse.ArgumentParser(description="Compare `kiln run` with onnxruntime on one suite model.")
    parser.add_argument("--kiln", required=True, help="the kiln executable")
    parser.add_argument("--model", required=True, choices=list(model_zoo.BY_NAME))
    parser.add_argument("--cache", required=True, type=pathlib.Path, help="folder for exported models and runs")
    args = parser.parse_args()
    spec = model_zoo.get(args.model)
    try:
        import export_models
        model = export_models.ensure_exported(spec.name, args.cache)
    except Exception as e:  # noqa: BLE001  (an exporter failure fails the test; it is never a skip)
        print(f"FAIL {spec.name}: export failed: {type(e).__name__}: {e}")
        return 1
    args.engine = build_engine(args.kiln, spec, model, args.cache)
    if args.engine is None:
        print(f"FAIL {spec.name}: kiln build failed")
        return 1
    results = [run_case(args, spec, model, i, case) for i, case in enumerate(spec.cases, 1)]
    if all(results):
        print(f"PASS {spec.name}: every output within rel_l2 {REL_L2_LIMIT:g} of onnxruntime, graph passes on and off, engine; "
              f"kiln optimize output standard ONNX within {OPTIMIZED_REL_L2_LIMIT:g}")
        return 0
    print(f"FAIL {spec.name}: {results.count(False)} of {len(results)} input sizes failed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
