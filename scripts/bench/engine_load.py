#!/usr/bin/env python3
"""Engine load time side by side: kiln loading the ONNX file, kiln loading an engine built from it, and ONNX
Runtime's session creation, each in a fresh process, interleaved round after round (the machine is shared: read
the minimums).

    engine_load.py [--kiln build/kiln] [--rounds 7] [--models resnet50,bert_mini|all] [--rebuild]

Engines are built once per model (batch 1..8 profiles where the model's batch dim is a symbol, 1 thread) into
build/engine-load/ unless present (--rebuild builds them again; the build column is then the `kiln build` time). kiln's figures are `kiln bench --runs 1 --warmup 0 --threads 1 --json`'s load_ms
and first_run_ms; ONNX Runtime's are scripts/bench/ort_worker.py's create_ms and first_run_ms (ORT_ENABLE_ALL,
1 thread). Prints a table of minimum / median per column, and the engine's load as a share of ORT's creation.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "build" / "bench-models"

# Per model: the batch-dynamic input ranges of its engine's profile (kiln build flags).
PROFILES = {
    "resnet50": ["--min", "input=1x3x224x224", "--opt", "input=1x3x224x224", "--max", "input=8x3x224x224"],
    "bert_mini": ["--min", "input_ids=1x128", "--min", "attention_mask=1x128", "--opt", "input_ids=1x128",
                  "--opt", "attention_mask=1x128", "--max", "input_ids=8x128", "--max", "attention_mask=8x128"],
}


def profile_flags(name: str, model: pathlib.Path) -> list[str]:
    """PROFILES[name], else from the bench's batch-1 inputs: min = opt = their shapes, max = batch 8 where the
    model's first dim is a symbol (a fixed first dim keeps its size)."""
    if name in PROFILES:
        return PROFILES[name]
    import numpy as np
    import onnx
    graph = onnx.load(str(model), load_external_data=False).graph
    dynamic = {i.name: bool(i.type.tensor_type.shape.dim) and not i.type.tensor_type.shape.dim[0].HasField("dim_value")
               for i in graph.input}
    flags: list[str] = []
    for path in sorted((MODELS / "inputs" / f"{name}-b1").glob("*.npy")):
        shape = list(np.load(path).shape)
        top = [8] + shape[1:] if shape and dynamic.get(path.stem) else shape
        dims = lambda d: "x".join(str(v) for v in d)  # noqa: E731
        flags += ["--min", f"{path.stem}={dims(shape)}", "--opt", f"{path.stem}={dims(shape)}",
                  "--max", f"{path.stem}={dims(top)}"]
    return flags


def kiln_bench(kiln: str, model: pathlib.Path, inputs: list[str]) -> tuple[float, float]:
    cmd = [kiln, "bench", str(model), "--runs", "1", "--warmup", "0", "--threads", "1", "--json"]
    for item in inputs:
        cmd += ["--input", item]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out["load_ms"], out["first_run_ms"]


def ort_create(model: pathlib.Path, inputs: list[str]) -> tuple[float, float]:
    cmd = [sys.executable, str(ROOT / "scripts" / "bench" / "ort_worker.py"), "--model", str(model), "--threads", "1",
           "--warmup", "0", "--runs", "1"]
    for item in inputs:
        cmd += ["--input", item]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out["create_ms"], out["first_run_ms"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", default=str(ROOT / "build" / "kiln"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--models", default="resnet50,bert_mini")
    parser.add_argument("--out-dir", type=pathlib.Path, default=ROOT / "build" / "engine-load")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    rows = []
    names = sorted(p.stem for p in MODELS.glob("*.onnx")) if args.models == "all" else args.models.split(",")
    for name in names:
        model = MODELS / f"{name}.onnx"
        engine = args.out_dir / f"{name}.kiln"
        build_s = None
        if args.rebuild or not engine.exists():
            start = time.perf_counter()
            subprocess.run([args.kiln, "build", str(model), "-o", str(engine), "--threads", "1",
                            *profile_flags(name, model)], check=True, capture_output=True)
            build_s = time.perf_counter() - start
            print(f"{name}: built {engine} in {build_s:.2f} s ({engine.stat().st_size / 2**20:.1f} MiB)", flush=True)
        inputs = [f"{p.stem}={p}" for p in sorted((MODELS / "inputs" / f"{name}-b1").glob("*.npy"))]
        samples: dict[str, list[float]] = {k: [] for k in ("onnx", "onnx_first", "engine", "engine_first", "ort",
                                                           "ort_first")}
        for _ in range(args.rounds):
            load, first = kiln_bench(args.kiln, model, inputs)
            samples["onnx"].append(load), samples["onnx_first"].append(first)
            load, first = kiln_bench(args.kiln, engine, inputs)
            samples["engine"].append(load), samples["engine_first"].append(first)
            create, first = ort_create(model, inputs)
            samples["ort"].append(create), samples["ort_first"].append(first)
        rows.append((name, samples, engine.stat().st_size, build_s))
    print(f"load average {os.getloadavg()[0]:.2f} at the end; {args.rounds} rounds, min / median ms")
    print("| model | kiln, ONNX file | kiln, engine | ONNX Runtime | engine / ORT (min) | engine first run | "
          "ORT first run | engine size | build |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, s, size, build_s in rows:
        cell = lambda k: f"{min(s[k]):.1f} / {statistics.median(s[k]):.1f}"  # noqa: E731
        print(f"| {name} | {cell('onnx')} | {cell('engine')} | {cell('ort')} | "
              f"{100 * min(s['engine']) / min(s['ort']):.1f} % | {cell('engine_first')} | {cell('ort_first')} | "
              f"{size / 2**20:.1f} MiB | {'-' if build_s is None else f'{build_s:.2f} s'} |")


if __name__ == "__main__":
    main()
