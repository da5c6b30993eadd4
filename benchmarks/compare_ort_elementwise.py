#!/usr/bin/env python3
"""Side by side: kiln vs ONNX Runtime on one-op models of big tensors (element-wise, Softmax,
LayerNormalization, broadcasting Add/Mul, Gelu), same thread count, same run.

Usage: .venv/bin/python benchmarks/compare_ort_elementwise.py [--threads 1] [--build build] [--rounds 3]
Builds the models with the onnx helper API into build/elementwise-models, then per model alternates ORT (its
own timing loop) and kiln (build/kiln_microbench's session/ benchmark) for a few rounds, so both see the same
machine load, and prints per run the minimum and median wall milliseconds and the minimum process CPU milliseconds (best of the
rounds; on a shared machine CPU time at one thread is the least disturbed figure), with kiln/ORT ratios
(< 1: kiln faster)."""
import argparse
import json
import os
import subprocess
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model(name, nodes, inputs, outputs, inits=(), opset=20):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    onnx.checker.check_model(m)
    return m


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def build_models(folder):
    rng = np.random.default_rng(0)
    big = [16, 256, 1024]  # 4 Mi floats, 16 MiB
    ms = {}
    for op in ["Sigmoid", "Tanh", "Relu", "Exp", "Erf"]:
        ms[op.lower()] = model(op, [helper.make_node(op, ["x"], ["y"])], [f32("x", big)], [f32("y", big)])
    ms["gelu"] = model("gelu", [helper.make_node("Gelu", ["x"], ["y"])], [f32("x", big)], [f32("y", big)])
    ms["softmax"] = model("softmax", [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [f32("x", big)], [f32("y", big)])
    ms["softmax_axis1"] = model("softmax1", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [f32("x", big)],
                                [f32("y", big)])
    sc = numpy_helper.from_array(rng.standard_normal(1024).astype(np.float32), "s")
    bi = numpy_helper.from_array(rng.standard_normal(1024).astype(np.float32), "b")
    ms["layernorm"] = model("layernorm", [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1)],
                            [f32("x", big)], [f32("y", big)], [sc, bi])
    ms["add_bias"] = model("add_bias", [helper.make_node("Add", ["x", "b"], ["y"])], [f32("x", big)], [f32("y", big)], [bi])
    ms["add_same"] = model("add_same", [helper.make_node("Add", ["x", "z"], ["y"])], [f32("x", big), f32("z", big)],
                           [f32("y", big)])
    nchw = [8, 64, 112, 112]
    ch = numpy_helper.from_array(rng.standard_normal((64, 1, 1)).astype(np.float32), "c")
    ms["mul_channel"] = model("mul_channel", [helper.make_node("Mul", ["x", "c"], ["y"])], [f32("x", nchw)],
                              [f32("y", nchw)], [ch])
    p = [numpy_helper.from_array(v.astype(np.float32), n) for n, v in
         [("g", rng.standard_normal(64)), ("bb", rng.standard_normal(64)), ("m", rng.standard_normal(64)),
          ("v", rng.random(64) + 0.5)]]
    ms["batchnorm"] = model("batchnorm", [helper.make_node("BatchNormalization", ["x", "g", "bb", "m", "v"], ["y"])],
                            [f32("x", nchw)], [f32("y", nchw)], p)
    ms["reduce_mean"] = model("reduce_mean", [helper.make_node("ReduceMean", ["x", "ax"], ["y"], keepdims=1)],
                              [f32("x", big)], [f32("y", [16, 256, 1])],
                              [numpy_helper.from_array(np.array([-1], dtype=np.int64), "ax")])
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for k, m in ms.items():
        paths[k] = os.path.join(folder, k + ".onnx")
        onnx.save(m, paths[k])
    return paths


def time_ort(session, feeds, seconds):
    times, cpu = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        t, c = time.perf_counter(), time.process_time()
        session.run(None, feeds)
        cpu.append((time.process_time() - c) * 1e3)
        times.append((time.perf_counter() - t) * 1e3)
    return min(times), float(np.median(times)), min(cpu)


def time_kiln(path, threads, build, seconds):
    env = dict(os.environ, KILN_BENCH_MODELS=path, KILN_BENCH_THREADS=str(threads))
    out = subprocess.run([os.path.join(build, "kiln_microbench"), "--benchmark_filter=^session/",
                          "--benchmark_format=json", f"--benchmark_min_time={seconds}"],
                         env=env, check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return b["min_ms"], b["median_ms"], b["cpu_min_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.5)
    args = ap.parse_args()
    paths = build_models(os.path.join(args.build, "elementwise-models"))
    print(f"threads={args.threads}, ONNX Runtime {ort.__version__}")
    print(f"{'':<14}{'--- min wall ms ---':>25}  {'--- median wall ms ---':>25}  {'--- min CPU ms ---':>25}")
    print(f"{'model':<14}" + f"{'ORT':>9}{'kiln':>9}{'ratio':>7}  " * 3)
    ratios = []
    for k, p in paths.items():
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(5)
        feeds = {i.name: rng.uniform(-3, 3, i.shape).astype(np.float32) for i in sess.get_inputs()}
        sess.run(None, feeds)
        best = [float("inf")] * 6  # ORT min, median, cpu; kiln min, median, cpu
        for _ in range(args.rounds):  # alternating, so both see the same machine load
            res = time_ort(sess, feeds, args.seconds) + time_kiln(p, args.threads, args.build, args.seconds)
            best = [min(b, r) for b, r in zip(best, res)]
        ratios.append([best[3] / best[0], best[4] / best[1], best[5] / best[2]])
        print(f"{k:<14}" + "".join(f"{best[i]:>9.3f}{best[i + 3]:>9.3f}{best[i + 3] / best[i]:>7.2f}  " for i in (0, 1, 2)),
              flush=True)
    g = np.exp(np.mean(np.log(np.array(ratios)), axis=0))
    print(f"{'geomean ratio':<14}" + "".join(f"{'':>18}{v:>7.2f}  " for v in g))

if __name__ == "__main__":
    main()
