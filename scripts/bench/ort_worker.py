#!/usr/bin/env python3
"""ONNX Runtime's side of the side-by-side benchmark, in its own process (so its peak RSS is its own).

    ort_worker.py --model M --input NAME=FILE.npy ... --threads T --warmup W --runs R [--save-outputs DIR]

Mirrors `kiln bench`: session creation (ORT_ENABLE_ALL, intra-op threads T, one inter-op thread,
sequential), a first run timed apart (session.run), then W untimed and R timed runs through an IoBinding (inputs
bound once as OrtValues, outputs to CPU memory), as kiln bench times its Binding. Prints one JSON object: create_ms,
first_run_ms, latency_ms (numpy's percentiles, as kiln bench computes them), cpu_ms, rss_at_start_bytes
(after imports, before inputs and session) and peak_rss_bytes.
"""
import argparse
import json
import pathlib
import resource
import time

import numpy as np
import onnxruntime as ort


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    """VmHWM: getrusage's ru_maxrss survives execve and would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--save-outputs", type=pathlib.Path)
    args = parser.parse_args()
    rss_at_start = rss_bytes()
    feeds = {}
    for item in args.input:
        name, _, path = item.partition("=")
        feeds[name] = np.load(path)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    start = time.perf_counter()
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    create_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    outputs = session.run(None, feeds)
    first_run_ms = (time.perf_counter() - start) * 1e3
    if args.save_outputs:
        args.save_outputs.mkdir(parents=True, exist_ok=True)
        for meta, value in zip(session.get_outputs(), outputs):
            np.save(args.save_outputs / f"{meta.name}.npy", value)
    binding = session.io_binding()
    for name, value in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value))
    for meta in session.get_outputs():
        binding.bind_output(meta.name, "cpu")
    for _ in range(args.warmup):
        session.run_with_iobinding(binding)
    latencies, cpu = [], []
    for _ in range(args.runs):
        cpu0 = time.process_time()
        start = time.perf_counter()
        session.run_with_iobinding(binding)
        latencies.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu0) * 1e3)
    lat = np.array(latencies)
    print(json.dumps({
        "ort_version": ort.__version__,
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "create_ms": create_ms,
        "first_run_ms": first_run_ms,
        "latency_ms": {"min": float(lat.min()), "mean": float(lat.mean()), "median": float(np.percentile(lat, 50)),
                       "p90": float(np.percentile(lat, 90)), "p99": float(np.percentile(lat, 99)),
                       "max": float(lat.max())},
        "cpu_ms": {"median": float(np.median(cpu)), "mean": float(np.mean(cpu))},
        "rss_at_start_bytes": rss_at_start,
        "peak_rss_bytes": peak_rss_bytes(),
    }))


if __name__ == "__main__":
    main()
