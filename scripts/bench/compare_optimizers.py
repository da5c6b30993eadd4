#!/usr/bin/env python3
"""Node counts after `kiln optimize` beside onnxsim and onnxslim (PyPI) on the benchmark's models
(`make compare-optimizers`; issue 9, item 6). Each tool simplifies every model twice: as exported (dynamic
batch) and with the input sizes fixed at batch 1 (kiln --shape, onnxsim overwrite_input_shapes, onnxslim
input_shapes). Every written model is checked on onnxruntime against the model as exported (rel-L2 <= 1e-6 at
batch 1), so a smaller count never hides a wrong model. Prints a markdown table; --update-doc writes it into
docs/performance.md between the optimizer-results markers. Not part of `make test`.

    .venv/bin/python scripts/bench/compare_optimizers.py --kiln build/kiln [--models a,b] [--update-doc FILE]
"""
from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models  # noqa: E402
import suite  # noqa: E402

TOOLS = ("onnxsim", "onnxslim")
REL_L2_LIMIT = 1e-6
BEGIN, END = "<!-- optimizer-results:begin -->", "<!-- optimizer-results:end -->"


def ensure_tools() -> None:
    """onnxsim and onnxslim are only needed here: installed into the running venv on first use."""
    missing = [t for t in TOOLS if importlib.util.find_spec(t) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def node_count(path: pathlib.Path) -> int:
    import onnx
    return len(onnx.load(str(path), load_external_data=False).graph.node)


def run_kiln(kiln: str, model: pathlib.Path, out: pathlib.Path, shapes: dict | None) -> None:
    cmd = [kiln, "optimize", str(model), "-o", str(out), "--json"]
    for name, dims in (shapes or {}).items():
        cmd.append(f"--shape={name}={'x'.join(map(str, dims))}")
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def run_onnxsim(model: pathlib.Path, out: pathlib.Path, shapes: dict | None) -> None:
    import onnx
    import onnxsim
    simplified, ok = onnxsim.simplify(onnx.load(str(model)),
                                      overwrite_input_shapes={k: list(v) for k, v in shapes.items()} if shapes else None)
    if not ok:
        raise RuntimeError("onnxsim could not validate its output")
    onnx.save(simplified, str(out))


def run_onnxslim(model: pathlib.Path, out: pathlib.Path, shapes: dict | None) -> None:
    import contextlib
    import io
    import onnxslim
    kwargs = {"input_shapes": [f"{k}:{','.join(map(str, v))}" for k, v in shapes.items()]} if shapes else {}
    with contextlib.redirect_stdout(io.StringIO()):  # its summary table would land in this script's output
        onnxslim.slim(str(model), str(out), **kwargs)


def outputs_agree(original: pathlib.Path, simplified: pathlib.Path, feeds: dict) -> float:
    """Largest rel-L2 over the outputs of the simplified model against the original, both on onnxruntime."""
    import onnxruntime as ort

    def run(path):
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in s.get_outputs()]
        return dict(zip(names, s.run(names, feeds)))
    want, got = run(original), run(simplified)
    worst = 0.0
    for name, w in want.items():
        g = got[name].astype(np.float64)
        w = w.astype(np.float64)
        worst = max(worst, float(np.linalg.norm(g - w) / max(float(np.linalg.norm(w)), 1e-30)))
    return worst


def compare_model(kiln: str, bm: suite.BenchModel, cache: pathlib.Path, work: pathlib.Path) -> dict:
    model = models.ensure_exported(bm, cache)
    feeds = {name: np.load(path) for name, path in models.ensure_inputs(bm, 1, cache).items()}
    row = {"model": bm.name, "exported": node_count(model)}
    runners = {"kiln": lambda o, s: run_kiln(kiln, model, o, s), "onnxsim": lambda o, s: run_onnxsim(model, o, s),
               "onnxslim": lambda o, s: run_onnxslim(model, o, s)}
    for fixed in (False, True):
        shapes = bm.case(1) if fixed else None
        for tool, runner in runners.items():
            key = f"{tool}{'_fixed' if fixed else ''}"
            out = work / f"{bm.name}-{key}.onnx"
            start = time.monotonic()
            try:
                runner(out, shapes)
                seconds = time.monotonic() - start
                err = outputs_agree(model, out, feeds)
                row[key] = {"nodes": node_count(out), "seconds": seconds, "rel_l2": err,
                            "ok": err <= REL_L2_LIMIT}
            except Exception as e:  # noqa: BLE001  (a tool's failure is a table entry, not the end of the run)
                row[key] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:120]}
    return row


def cell(entry: dict, best: int) -> str:
    if "error" in entry:
        return "fails"
    text = str(entry["nodes"])
    if not entry["ok"]:
        text += f" (rel-L2 {entry['rel_l2']:.1e}!)"
    return f"**{text}**" if entry["nodes"] == best and entry["ok"] else text


def table(rows: list) -> str:
    lines = ["| model | exported | kiln | onnxsim | onnxslim | kiln, batch 1 fixed | onnxsim, fixed | onnxslim, fixed |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        cells = []
        for suffix in ("", "_fixed"):
            entries = [r[f"{t}{suffix}"] for t in ("kiln", *TOOLS)]
            best = min((e["nodes"] for e in entries if "nodes" in e and e["ok"]), default=-1)
            cells += [cell(e, best) for e in entries]
        lines.append(f"| {r['model']} | {r['exported']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kiln", required=True)
    p.add_argument("--models", help="comma-separated subset of the benchmark's models")
    p.add_argument("--cache", type=pathlib.Path, default=suite.REPO / "build" / "bench-models")
    p.add_argument("--update-doc", type=pathlib.Path)
    args = p.parse_args()
    ensure_tools()
    chosen = [suite.get(n) for n in args.models.split(",")] if args.models else list(suite.MODELS)
    versions = {t: importlib.import_module(t).__version__ for t in TOOLS}
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for bm in chosen:
            rows.append(compare_model(args.kiln, bm, args.cache, pathlib.Path(tmp)))
            print(json.dumps(rows[-1]), file=sys.stderr)
    text = (f"Nodes after each tool ({', '.join(f'{t} {v}' for t, v in versions.items())}; kiln optimize at its "
            f"default level 1); bold: the fewest among outputs that onnxruntime runs to the exported model's results "
            f"within rel-L2 {REL_L2_LIMIT:g} at batch 1.\n\n" + table(rows))
    print(text)
    if args.update_doc:
        doc = args.update_doc.read_text()
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN) + len(BEGIN)] + "\n" + text + "\n" + doc[doc.index(END):]
        else:
            doc += f"\n## kiln optimize beside onnxsim and onnxslim\n\n{BEGIN}\n{text}\n{END}\n"
        args.update_doc.write_text(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
