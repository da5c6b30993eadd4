#!/usr/bin/env python3
"""kiln beside ONNX Runtime on the benchmark suite (`make bench`; docs/performance.md).

    run_bench.py [--kiln build/kiln] [--models a,b] [--threads 1,2] [--batches 1,8] [--warmup 1]
                 [--seconds 3 | --runs N] [--quick] [--no-check] [--update-doc docs/performance.md]

Measures the machine (`kiln info --measure --json`), exports the suite's models (suite.py) into the cache
folder once, and for every model, batch and thread count runs `kiln bench --json` and then ONNX Runtime
(ort_worker.py, its own process) on the same .npy inputs with the same warm-up and the same number of timed
runs (kiln's count when timing by --seconds). At the first batch, kiln's outputs (`kiln run`) are compared
with ONNX Runtime's (relative L2 error). Writes RESULTS.json and RESULTS.md in --out and prints the tables
(report.py); --update-doc replaces the results block of docs/performance.md. Never part of `make test`.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import macs  # noqa: E402
import models  # noqa: E402
import report  # noqa: E402
import suite  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kiln", default=str(suite.REPO / "build" / "kiln"))
    p.add_argument("--cache", type=pathlib.Path, default=suite.REPO / "build" / "bench-models")
    p.add_argument("--out", type=pathlib.Path, default=suite.REPO / "build" / "bench-results")
    p.add_argument("--models", help=f"comma-separated (default: all of {', '.join(suite.BY_NAME)})")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs after the first (default 1)")
    p.add_argument("--seconds", type=float, default=3.0, help="kiln times runs for this long (default 3)")
    p.add_argument("--runs", type=int, help="a fixed count of timed runs instead of --seconds")
    p.add_argument("--quick", action="store_true",
                   help=f"{', '.join(suite.QUICK)}; 1 thread, batch 1, 1 s (unless given otherwise)")
    p.add_argument("--no-check", action="store_true", help="skip comparing kiln's outputs with ORT's")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed to one process")
    p.add_argument("--update-doc", type=pathlib.Path, help="replace the results block of this markdown file")
    args = p.parse_args()
    if args.quick:
        args.models = args.models or ",".join(suite.QUICK)
        if "--threads" not in sys.argv:
            args.threads = "1"
        if "--batches" not in sys.argv:
            args.batches = "1"
        if "--seconds" not in sys.argv:
            args.seconds = 1.0
    return args


def run_json(cmd: list, timeout: float):
    """Runs a command that prints one JSON object; returns (object, None) or (None, a short error)."""
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()
        return None, lines[-1][:200]
    try:
        return json.loads(proc.stdout), None
    except json.JSONDecodeError as e:
        return None, f"unreadable output: {e}"


def rel_l2_against_ort(kiln: str, model: pathlib.Path, inputs: dict, ort_dir: pathlib.Path, timeout: float):
    """Largest relative L2 error of kiln's outputs against ORT's (integer outputs: 0 or inf)."""
    import numpy as np
    with tempfile.TemporaryDirectory() as out:
        cmd = [kiln, "run", model, "--threads", "1", "-o", out] + [f"--input={n}={p}" for n, p in inputs.items()]
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            return None, (proc.stderr.strip().splitlines() or ["kiln run failed"])[-1][:200]
        worst = 0.0
        for want_file in sorted(ort_dir.glob("*.npy")):
            got_file = pathlib.Path(out) / (models.run_model_test.output_file_name(want_file.stem))
            if not got_file.is_file():
                return None, f"kiln wrote no {got_file.name}"
            want, got = np.load(want_file), np.load(got_file)
            if want.shape != got.shape:
                return None, f"{want_file.stem}: shape {got.shape}, ORT {want.shape}"
            if not np.issubdtype(want.dtype, np.floating):
                worst = max(worst, 0.0 if np.array_equal(want, got) else float("inf"))
                continue
            w, g = want.astype(np.float64), got.astype(np.float64)
            worst = max(worst, float(np.linalg.norm(g - w) / max(float(np.linalg.norm(w)), 1e-30)))
        return worst, None


def kiln_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(suite.REPO), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def bench_one(args, bm, model_path, inputs, batch, threads, n_macs, check_dir):
    row = {"model": bm.name, "family": bm.family, "conv_heavy": bm.conv_heavy, "batch": batch, "threads": threads,
           "macs": n_macs}
    input_args = [f"--input={n}={p}" for n, p in inputs.items()]
    timing = ["--runs", args.runs] if args.runs else ["--seconds", args.seconds]
    row["kiln"], err = run_json([args.kiln, "bench", model_path, *input_args, "--threads", threads, "--warmup",
                                 args.warmup, *timing, "--json"], args.timeout)
    if err:
        row["error"] = f"kiln: {err}"
    runs = row["kiln"]["runs"] if row["kiln"] else (args.runs or 10)
    ort_cmd = [sys.executable, HERE / "ort_worker.py", "--model", model_path, "--threads", threads, "--warmup",
               args.warmup, "--runs", runs] + [f"--input={n}={p}" for n, p in inputs.items()]
    if check_dir:
        ort_cmd += ["--save-outputs", check_dir]
    row["ort"], err = run_json(ort_cmd, args.timeout)
    if err:
        row["error"] = (row.get("error", "") + f" ort: {err}").strip()
    return row


def main() -> int:
    args = parse_args()
    names = args.models.split(",") if args.models else list(suite.BY_NAME)
    chosen = [suite.get(n.strip()) for n in names]
    thread_counts = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    if not pathlib.Path(args.kiln).is_file():
        print(f"error: {args.kiln} not found; build it first (make build)", file=sys.stderr)
        return 1
    machine, err = run_json([args.kiln, "info", "--measure", "--json"], args.timeout)
    if err:
        print(f"error: kiln info --measure failed: {err}", file=sys.stderr)
        return 1
    import onnxruntime
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    results = {"started": started, "kiln_commit": kiln_commit(), "ort_version": onnxruntime.__version__,
               "machine": machine, "load_average_start": list(os.getloadavg()),
               "settings": {"threads": thread_counts, "batches": batches, "warmup": args.warmup,
                            "runs": args.runs, "seconds": None if args.runs else args.seconds},
               "rows": []}
    fma = machine["measured"]["fma_peak"]
    print(f"machine: {machine['cpu']['name']}, kernels {machine['isa']['active']}, FMA peak "
          f"{fma['gflops_per_core']:.1f} GFLOP/s per core; load average {os.getloadavg()[0]:.2f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path, md_path = args.out / f"bench-{stamp}.json", args.out / f"bench-{stamp}.md"
    start = time.monotonic()
    for bm in chosen:
        try:
            model_path = models.ensure_exported(bm, args.cache)
        except Exception as e:  # noqa: BLE001  (an export failure costs one model, not the run)
            for b in batches:
                for t in thread_counts:
                    results["rows"].append({"model": bm.name, "batch": b, "threads": t, "error": f"export: {e}"})
            continue
        # Read the file once so that both runtimes find it in the page cache: kiln's process runs first in every
        # configuration, and on this VM a model file not read for some minutes comes from disk again (ResNet-18's
        # load measured 130-138 ms after evicting the file, 95 ms warm), a cost ORT, running second, never paid.
        model_path.read_bytes()
        key = models.cache_key(bm)
        for bi, batch in enumerate(batches):
            inputs = models.ensure_inputs(bm, batch, args.cache)
            try:
                import numpy as np
                n_macs = macs.cached_macs(model_path, key, batch,
                                          lambda: {n: np.load(p) for n, p in inputs.items()})["total"]
            except Exception as e:  # noqa: BLE001
                print(f"  {bm.name}: could not count MACs: {e}", flush=True)
                n_macs = None
            for ti, threads in enumerate(thread_counts):
                check = not args.no_check and bi == 0 and ti == 0
                check_dir = pathlib.Path(tempfile.mkdtemp(prefix="kiln-bench-ort-")) if check else None
                try:
                    row = bench_one(args, bm, model_path, inputs, batch, threads, n_macs, check_dir)
                    if check and row.get("ort"):
                        row["rel_l2"], err = rel_l2_against_ort(args.kiln, model_path, inputs, check_dir, args.timeout)
                        if err:
                            row["error"] = (row.get("error", "") + f" check: {err}").strip()
                finally:
                    if check_dir:
                        shutil.rmtree(check_dir, ignore_errors=True)
                results["rows"].append(row)
                d = report.derived(row, machine)
                print(f"{bm.name:<22} threads {threads} batch {batch}:  kiln {report._fmt(d['kiln_ms'])} ms  "
                      f"ORT {report._fmt(d['ort_ms'])} ms  ratio {report._fmt(d['ratio'])}"
                      f"{'  rel-L2 ' + format(row['rel_l2'], '.1e') if row.get('rel_l2') is not None else ''}"
                      f"{'  ERROR ' + row['error'] if row.get('error') else ''}", flush=True)
                json_path.write_text(json.dumps(results, indent=1))  # partial results survive an interruption
    results["load_average_end"] = list(os.getloadavg())
    results["minutes"] = (time.monotonic() - start) / 60
    json_path.write_text(json.dumps(results, indent=1))
    markdown = report.render(results)
    md_path.write_text(markdown)
    print("\n" + markdown)
    print(f"results: {json_path}\n         {md_path}")
    if args.update_doc:
        report.update_doc(args.update_doc, markdown)
        print(f"updated {args.update_doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
