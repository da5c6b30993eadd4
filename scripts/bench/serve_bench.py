#!/usr/bin/env python3
"""kiln serve under load on loopback: throughput and latency percentiles per protocol and client count, beside
in-process `kiln bench` at the same thread count (`make bench-serve`; never part of `make test`).

Each cell sends a bounded number of requests (--requests, at most --seconds) from N client threads, each with
its own tritonclient connection, and counts failures. The clients are Python (Triton's own), so at high client
counts the figure includes what the clients cost on the same cores; the load average is printed with it.
KServe's Python model server side by side (issue 11) is not here yet.

    .venv/bin/python scripts/bench/serve_bench.py --kiln build/kiln [--model models/super_resolution.onnx]
        [--shape 1x1x64x64] [--threads 2] [--clients 1,4,16] [--requests 300] [--seconds 10]
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

PROTOCOLS = ("http-json", "http-binary", "grpc")


def start(kiln: str, model: str, threads: int):
    p = subprocess.Popen([kiln, "serve", model, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "-1",
                          "--threads", str(threads)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ports = {}
    for line in p.stdout:
        m = re.match(r"kiln serve: (HTTP|gRPC) on [^ ]+:(\d+)$", line.strip())
        if m:
            ports[m.group(1)] = int(m.group(2))
        if line.strip() == "kiln serve: ready":
            return p, ports
    raise RuntimeError("kiln serve did not start")


def one_client(protocol, ports, model, input_name, x, stop_at, counter, lock, latencies, failures):
    if protocol == "grpc":
        client, module = grpcclient.InferenceServerClient(f"127.0.0.1:{ports['gRPC']}"), grpcclient
    else:
        client, module = httpclient.InferenceServerClient(f"127.0.0.1:{ports['HTTP']}"), httpclient
    while time.monotonic() < stop_at:
        with lock:
            if counter[0] <= 0:
                return
            counter[0] -= 1
        i = module.InferInput(input_name, list(x.shape), "FP32")
        if module is httpclient:
            i.set_data_from_numpy(x, binary_data=protocol == "http-binary")
            outputs = [httpclient.InferRequestedOutput("output", binary_data=protocol == "http-binary")]
        else:
            i.set_data_from_numpy(x)
            outputs = None
        start = time.perf_counter()
        try:
            client.infer(model, [i], outputs=outputs)
            latencies.append(time.perf_counter() - start)
        except Exception:  # noqa: BLE001 - counted, the run goes on
            failures.append(1)


def cell(protocol, clients, ports, model, input_name, x, requests, seconds):
    counter, lock, latencies, failures = [requests], threading.Lock(), [], []
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(one_client, protocol, ports, model, input_name, x, start + seconds, counter, lock,
                              latencies, failures) for _ in range(clients)]:
            f.result()
    wall = time.monotonic() - start
    ms = np.array(latencies) * 1000
    return {"protocol": protocol, "clients": clients, "requests": len(latencies), "failed": len(failures),
            "per_s": len(latencies) / wall, "p50_ms": float(np.percentile(ms, 50)) if len(ms) else 0,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default="build/kiln")
    ap.add_argument("--model", default="models/super_resolution.onnx")
    ap.add_argument("--input", default="input")
    ap.add_argument("--shape", default="1x1x64x64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    shape = [int(d) for d in args.shape.split("x")]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    bench = json.loads(subprocess.run([args.kiln, "bench", args.model, "--shape", f"{args.input}={args.shape}",
                                       "--threads", str(args.threads), "--seconds", "3", "--json"],
                                      capture_output=True, text=True, check=True).stdout)
    name = pathlib.Path(args.model).stem
    server, ports = start(args.kiln, args.model, args.threads)
    try:
        rows = [cell(p, int(c), ports, name, args.input, x, args.requests, args.seconds)
                for c in args.clients.split(",") for p in PROTOCOLS]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    print(f"model {name} input {args.shape}, {args.threads} threads, load average {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} CPUs")
    print(f"in-process kiln bench: {bench['throughput_per_s']:.1f}/s, median {bench['latency_ms']['median']:.2f} ms")
    print("| protocol | clients | requests | failed | per s | vs kiln bench | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['protocol']} | {r['clients']} | {r['requests']} | {r['failed']} | {r['per_s']:.1f} | "
              f"{100 * r['per_s'] / bench['throughput_per_s']:.0f} % | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
