#!/usr/bin/env python3
"""kiln serve under load on loopback: throughput and latency percentiles per protocol and client count, beside
in-process `kiln bench` at the same thread count (`make bench-serve`; never part of `make test`).

Beside it, on the same model, client load and thread count: KServe's own Python model server (PyPI `kserve`)
wrapping ONNX Runtime (scripts/bench/kserve_ort_server.py), and kiln serve again with config.json
`"instances": 1`. KServe's server runs one request at a time (a synchronous predict, as its own runtimes have);
kiln serve by default runs as many at once as its workers bring, each run past the first on the session's
thread pool running its kernels on its own worker thread, so it uses more threads than --threads; with one
instance it uses exactly --threads, the like-for-like figure. `--servers` adds kiln-w (as many inference
workers per protocol as --threads: that many runs at once, each alone on the pool or, when another runs, on its
own thread) and kiln-w1 (the same with one-thread runs). All listen on 127.0.0.1 only.

Each cell sends a bounded number of requests (--requests, at most --seconds) from N closed-loop clients, each
on its own connection, and counts failures (an error answer, a short answer, or no answer: a request is sent
only once, so lost ones are failed ones). The clients are kiln-loadgen (tools/loadgen, C++: one thread and
connection per client, the request encoded once, answers checked for their size, not decoded), the same for
every server; the table gives its CPU time per request, what the load takes from the cores the server runs on.
`--client python` drives the cells with Triton's Python clients (tritonclient threads) instead, as before
kiln-loadgen; their CPU per request, taken from the same cores, was about twice kiln-loadgen's on gRPC, three
times on binary HTTP and four to five times on JSON (docs/performance.md; kiln-loadgen's binary HTTP client
costs a third of what it did then since it reads answers in 64 KiB calls, 2026-12-07). Both send JSON requests with `Content-Type: application/json` (tritonclient sends
none, kiln does not need one, KServe 0.21 answers 400 without it: it then reads the body as binary tensors).

Outside pauses: a shared machine may stop niced processes for seconds at a time (here the lead's kernel
measurements do). A watcher thread notes any such pause during a cell (its own 20 ms ticks arriving over 150 ms
late, or a server process seen stopped, state T); a paused cell is measured again, up to --attempts times, and
the table says how many attempts each took. The in-process `kiln bench` figure is taken the same way.

    .venv/bin/python scripts/bench/serve_bench.py --kiln build/kiln [--loadgen build/kiln-loadgen]
        [--client loadgen|python] [--model models/super_resolution.onnx] [--shape 1x1x64x64] [--threads 2]
        [--clients 1,4,16] [--protocols http-json,http-binary,grpc] [--requests 300] [--seconds 10]
        [--servers kiln,kiln-1,kserve] [--baseline OLD_KILN --servers base-kiln,kiln] [--attempts 10]
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnx
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

PROTOCOLS = ("http-json", "http-binary", "grpc")


class PauseWatch:
    """Notes whether this process or one of `pids` was stopped from outside while the watch was on."""

    def __init__(self, pids):
        self.pids, self.paused, self._on = pids, False, True  # read live: a pid may join later
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _stopped(self, pid) -> bool:
        try:
            return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
        except OSError:
            return False

    def _watch(self):
        last = time.monotonic()
        while self._on:
            time.sleep(0.02)
            now = time.monotonic()
            if now - last > 0.17 or any(self._stopped(p) for p in self.pids):
                self.paused = True
            last = now

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._on = False
        self._thread.join()


def unpaused(measure, pids, attempts):
    """measure() again until no outside pause falls within it; returns (result, attempts taken)."""
    for attempt in range(1, attempts + 1):
        with PauseWatch(pids) as watch:
            result = measure()
        if not watch.paused:
            return result, attempt
    return result, f"{attempts}, all paused"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_kiln(kiln: str, model: str, threads: int, config: dict | None = None, extra: tuple = ()):
    """kiln serve on `model`; with `config`, from a model folder whose config.json holds it; `extra`: more options."""
    if config:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="serve_bench_"))
        (folder / pathlib.Path(model).name).symlink_to(pathlib.Path(model).resolve())
        (folder / "config.json").write_text(json.dumps(config))
        model = str(folder)
    p = subprocess.Popen([kiln, "serve", model, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "-1",
                          "--threads", str(threads), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ports = {}
    for line in p.stdout:
        m = re.match(r"kiln serve: (HTTP|gRPC) on [^ ]+:(\d+)$", line.strip())
        if m:
            ports[m.group(1)] = int(m.group(2))
        if line.strip() == "kiln serve: ready":
            return p, ports
    raise RuntimeError("kiln serve did not start")


def start_kserve(model: str, threads: int):
    ports = {"HTTP": free_port(), "gRPC": free_port()}
    server = pathlib.Path(__file__).with_name("kserve_ort_server.py")
    p = subprocess.Popen([sys.executable, "-W", "ignore", str(server), model, "--http-port", str(ports["HTTP"]),
                          "--grpc-port", str(ports["gRPC"]), "--threads", str(threads)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    http, grpc = (httpclient.InferenceServerClient(f"127.0.0.1:{ports['HTTP']}"),
                  grpcclient.InferenceServerClient(f"127.0.0.1:{ports['gRPC']}"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        try:
            if http.is_server_ready() and grpc.is_server_ready():
                return p, ports
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.2)
    p.kill()
    raise RuntimeError("the KServe server did not start")


def one_client(protocol, ports, model, input_name, output_name, x, stop_at, counter, lock, latencies, failures):
    if protocol == "grpc":
        client, module = grpcclient.InferenceServerClient(f"127.0.0.1:{ports['gRPC']}"), grpcclient
    else:
        client, module = httpclient.InferenceServerClient(f"127.0.0.1:{ports['HTTP']}"), httpclient
    binary = protocol == "http-binary"
    headers = {"Content-Type": "application/json"} if protocol == "http-json" else None
    while time.monotonic() < stop_at:
        with lock:
            if counter[0] <= 0:
                return
            counter[0] -= 1
        i = module.InferInput(input_name, list(x.shape), "FP32")
        if module is httpclient:
            i.set_data_from_numpy(x, binary_data=binary)
            outputs = [httpclient.InferRequestedOutput(output_name, binary_data=binary)]
        else:
            i.set_data_from_numpy(x)
            outputs = None
        start = time.perf_counter()
        try:
            result = client.infer(model, [i], outputs=outputs, headers=headers)
            if result.as_numpy(output_name) is None:
                raise RuntimeError(f"no {output_name} in the answer")
            latencies.append(time.perf_counter() - start)
        except Exception:  # noqa: BLE001 - counted, the run goes on
            failures.append(1)


def loadgen_cell(loadgen, server, protocol, clients, ports, model, input_arg, requests, seconds):
    """One cell driven by kiln-loadgen; its JSON gives the figures (and its own CPU time per request)."""
    port = ports["gRPC"] if protocol == "grpc" else ports["HTTP"]
    run = subprocess.run([loadgen, "--url", f"127.0.0.1:{port}", "--protocol", protocol, "--model", model,
                          "--input", input_arg, "--clients", str(clients), "--requests", str(requests),
                          "--seconds", str(seconds), "--json"], capture_output=True, text=True)
    if run.returncode not in (0, 1):  # 1: some requests failed, which the table shows
        raise RuntimeError(f"kiln-loadgen exited {run.returncode}: {run.stderr}")
    out = json.loads(run.stdout)
    if out["first_failure"]:
        print(f"{server} {protocol} {clients}: first failure: {out['first_failure']}", file=sys.stderr)
    return {"server": server, "protocol": protocol, "clients": clients, "requests": out["count"],
            "failed": out["failed"], "per_s": out["throughput_per_s"], "p50_ms": out["latency_ms"]["p50"],
            "p99_ms": out["latency_ms"]["p99"], "client_cpu_ms": out["client_cpu_ms_per_request"]}


def python_cell(server, protocol, clients, ports, model, input_name, output_name, x, requests, seconds):
    """One cell driven by tritonclient threads in this process (--client python); their CPU time is this
    process's (the pause watcher's ticks are a negligible part of it)."""
    counter, lock, latencies, failures = [requests], threading.Lock(), [], []
    start, cpu_start = time.monotonic(), time.process_time()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(one_client, protocol, ports, model, input_name, output_name, x, start + seconds,
                              counter, lock, latencies, failures) for _ in range(clients)]:
            f.result()
    wall, cpu = time.monotonic() - start, time.process_time() - cpu_start
    sent = len(latencies) + len(failures)
    ms = np.array(latencies) * 1000
    return {"server": server, "protocol": protocol, "clients": clients, "requests": len(latencies), "failed": len(failures),
            "per_s": len(latencies) / wall, "p50_ms": float(np.percentile(ms, 50)) if len(ms) else 0,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else 0,
            "client_cpu_ms": 1000 * cpu / sent if sent else 0}


def run_server(server, args, name, output_name, x, input_file):
    # "base-" before a kiln variant: the same variant of the --baseline binary (a before/after in one run).
    kind = server.removeprefix("base-")
    binary = args.baseline if kind != server else args.kiln
    if kind != server and not binary:
        raise SystemExit(f"server {server} needs --baseline PATH (the kiln binary to compare with)")
    if kind == "kiln":
        process, ports = start_kiln(binary, args.model, args.threads)
    elif kind == "kiln-1":
        process, ports = start_kiln(binary, args.model, args.threads, {"instances": 1})
    elif kind == "kiln-batched":
        # Dynamic batching: requests that arrive within 500 us run as one batch of up to 16 (config.json).
        process, ports = start_kiln(binary, args.model, args.threads,
                                    {"max_batch_size": 16, "max_queue_delay_us": 500})
    elif kind == "kiln-w":
        # As many inference workers per protocol as --threads (instead of 16): as many runs at once as cores.
        workers = str(args.threads)
        process, ports = start_kiln(binary, args.model, args.threads,
                                    extra=("--http-threads", workers, "--grpc-threads", workers))
    elif kind == "kiln-w1":
        # The same with one-thread runs: each worker runs a request on its own core.
        workers = str(args.threads)
        process, ports = start_kiln(binary, args.model, 1,
                                    extra=("--http-threads", workers, "--grpc-threads", workers))
    elif kind == "kiln-2x1":
        # As many one-thread instances as --threads: the same threads in all, each run on one of them.
        process, ports = start_kiln(binary, args.model, args.threads, {"instances": args.threads, "threads": 1})
    else:
        process, ports = start_kserve(args.model, args.threads)
    try:
        rows = []
        for c in args.clients.split(","):
            for p in args.protocols.split(","):
                if args.client == "loadgen":
                    measure = lambda: loadgen_cell(args.loadgen, server, p, int(c), ports, name,  # noqa: E731
                                                   f"{args.input}={input_file}", args.requests, args.seconds)
                else:
                    measure = lambda: python_cell(server, p, int(c), ports, name, args.input,  # noqa: E731
                                                  output_name, x, args.requests, args.seconds)
                row, attempts = unpaused(measure, [process.pid], args.attempts)
                rows.append(dict(row, attempts=attempts))
                print(f"{server} {p} {c}: {row['per_s']:.1f}/s, attempts {attempts}", file=sys.stderr, flush=True)
        return rows
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default="build/kiln")
    ap.add_argument("--loadgen", default="build/kiln-loadgen")
    ap.add_argument("--baseline", help="another kiln binary, served by the servers named base-VARIANT (e.g. "
                                       "base-kiln, base-kiln-w): a before/after in one run")
    ap.add_argument("--client", choices=("loadgen", "python"), default="loadgen",
                    help="what sends the requests: kiln-loadgen (C++), or tritonclient threads in this process")
    ap.add_argument("--model", default="models/super_resolution.onnx")
    ap.add_argument("--input", default="input")
    ap.add_argument("--shape", default="1x1x64x64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS), help="of " + ", ".join(PROTOCOLS))
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--servers", default="kiln,kiln-1,kserve",
                    help="of kiln (runs as the workers bring them), kiln-1 (config.json instances 1: one run at a "
                         "time, like the KServe server), kiln-w (--http-threads and --grpc-threads = --threads: as "
                         "many runs at once as threads), kiln-w1 (the same with --threads 1 runs), kiln-2x1 (config.json instances = --threads, threads 1: "
                         "a one-thread run per thread), kiln-batched (config.json max_batch_size 16, "
                         "max_queue_delay_us 500: dynamic batching) and kserve")
    ap.add_argument("--attempts", type=int, default=10, help="measurements of a cell at most, when paused")
    args = ap.parse_args()
    shape = [int(d) for d in args.shape.split("x")]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    output_name = onnx.load(args.model, load_external_data=False).graph.output[0].name
    load_before = os.getloadavg()[0]
    def kiln_bench():
        p = subprocess.Popen([args.kiln, "bench", args.model, "--shape", f"{args.input}={args.shape}", "--threads",
                              str(args.threads), "--seconds", "3", "--json"], stdout=subprocess.PIPE, text=True)
        watched.append(p.pid)
        out, _ = p.communicate()
        return json.loads(out)

    # Before and after the cells: the machine's other load moves during a run; the higher figure is the one
    # the servers are held to.
    watched = []
    bench_before, attempts_before = unpaused(kiln_bench, watched, args.attempts)
    name = pathlib.Path(args.model).stem
    # kiln-loadgen reads the input from a file: the same data as the Python clients send.
    input_file = pathlib.Path(tempfile.mkdtemp(prefix="serve_bench_")) / f"{args.input}.npy"
    np.save(input_file, x)
    rows = [r for server in args.servers.split(",")
            for r in run_server(server, args, name, output_name, x, input_file)]
    bench_after, attempts_after = unpaused(kiln_bench, watched, args.attempts)
    bench = max(bench_before, bench_after, key=lambda b: b["throughput_per_s"])
    print(f"model {name} input {args.shape}, {args.threads} threads, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs, clients: "
          f"{'kiln-loadgen' if args.client == 'loadgen' else 'tritonclient (Python threads)'}")
    for when, b, attempts in (("before", bench_before, attempts_before), ("after", bench_after, attempts_after)):
        print(f"in-process kiln bench {when}: {b['throughput_per_s']:.1f}/s, median {b['latency_ms']['median']:.2f} ms "
              f"(attempts {attempts})")
    by_cell = {(r["server"], r["protocol"], r["clients"]): r for r in rows}
    print("| server | protocol | clients | requests | failed | per s | vs kiln bench | vs kserve | p50 ms | p99 ms | "
          "client CPU ms/req | attempts |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        other = by_cell.get(("kserve", r["protocol"], r["clients"]))
        ratio = f"{r['per_s'] / other['per_s']:.2f}x" if other and other["per_s"] and r["server"] != "kserve" else ""
        print(f"| {r['server']} | {r['protocol']} | {r['clients']} | {r['requests']} | {r['failed']} | "
              f"{r['per_s']:.1f} | {100 * r['per_s'] / bench['throughput_per_s']:.0f} % | {ratio} | "
              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['client_cpu_ms']:.3f} | {r['attempts']} |")
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
