#!/usr/bin/env python3
"""NumPy (OpenBLAS SGEMM) on the shapes of benchmarks/gemm_bench.cpp, for comparison in the same sitting.

    .venv/bin/python benchmarks/gemm_numpy.py            # 1 and 2 threads (a child process per thread count)

OpenBLAS reads its thread count when it loads, so each count runs in its own process (OPENBLAS_NUM_THREADS).
Median of repeated runs, GFLOP/s = 2 M N K batch / time. No epilogue: the kiln conv shapes add bias + ReLU.
Debian's numpy links the netlib reference BLAS unless libopenblas is installed; a PyPI wheel bundles OpenBLAS:
    pip install --target /tmp/npwheel numpy && PYTHONPATH=/tmp/npwheel python benchmarks/gemm_numpy.py
The BLAS in use is printed first.
"""
import os
import subprocess
import sys
import time

SHAPES = [  # group, M, N, K, batch, B transposed (as in gemm_bench.cpp)
    ("square", 256, 256, 256, 1, False), ("square", 512, 512, 512, 1, False),
    ("square", 1024, 1024, 1024, 1, False), ("square", 2048, 2048, 2048, 1, False),
    ("conv", 64, 12544, 147, 1, False), ("conv", 32, 50176, 27, 1, False),
    ("conv", 64, 3136, 576, 1, False), ("conv", 256, 3136, 64, 1, False),
    ("conv", 128, 784, 1152, 1, False), ("conv", 256, 196, 2304, 1, False),
    ("conv", 512, 49, 4608, 1, False), ("conv", 2048, 49, 512, 1, False),
    ("transformer", 197, 768, 768, 1, False), ("transformer", 197, 3072, 768, 1, False),
    ("transformer", 197, 768, 3072, 1, False), ("transformer", 128, 2304, 768, 1, False),
    ("transformer", 512, 768, 768, 1, False), ("gemv", 1, 768, 768, 1, False),
    ("gemv", 1, 3072, 768, 1, False), ("gemv", 1, 768, 3072, 1, False),
    ("heads_qk", 197, 197, 64, 12, True), ("heads_pv", 197, 64, 197, 12, False),
]


def run(threads):
    import numpy as np

    if threads == 1:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"] if np.__version__ >= "2" else "?"
        print(f"numpy {np.__version__}, BLAS: {blas.get('name')} {blas.get('version')}" if isinstance(blas, dict)
              else f"numpy {np.__version__}", flush=True)
    rng = np.random.default_rng(1)
    for group, m, n, k, batch, trans_b in SHAPES:
        a = rng.uniform(-1, 1, (batch, m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (batch, n, k) if trans_b else (batch, k, n)).astype(np.float32)
        if batch == 1:
            a, b = a[0], b[0]
        bt = np.swapaxes(b, -1, -2) if trans_b else b
        out = np.matmul(a, bt)
        flops = 2.0 * m * n * k * batch
        reps = max(3, min(2000, int(2e9 / flops)))
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                np.matmul(a, bt, out=out)
            times.append((time.perf_counter() - t0) / reps)
        times.sort()
        t = times[len(times) // 2]
        shape = f"{m}x{n}x{k}" + (f"x{batch}" if batch > 1 else "")
        print(f"numpy/{group}/{shape}/t{threads}  {t * 1e6:10.1f} us  {flops / t / 1e9:7.1f} GFLOP/s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        run(int(sys.argv[1]))
    else:
        for threads in (1, 2):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
            subprocess.run([sys.executable, __file__, str(threads)], env=env, check=True)
