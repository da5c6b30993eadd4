#!/usr/bin/env python3
"""Side by side: kiln vs ONNX Runtime on one-op models of big tensors (element-wise, Softmax,
LayerNormalization, broadcasting Add/Mul, Gelu), same thread count, same run.

Usage: .venv/bin/python benchmarks/compare_ort_elementwise.py [--threads 1] [--build build]
Builds the models with the onnx helper API into build/elementwise-models, times ORT with its own loop
(median of repeated runs) and kiln through build/kiln_microbench (session/ benchmarks), prints a table
of median milliseconds and kiln/ORT ratios (< 1: kiln faster)."""
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


def time_ort(path, threads, seconds=1.5):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(5)
    feeds = {i.name: rng.uniform(-3, 3, i.shape).astype(np.float32) for i in s.get_inputs()}
    s.run(None, feeds)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        t = time.perf_counter()
        s.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def time_kiln(paths, threads, build):
    env = dict(os.environ, KILN_BENCH_MODELS=",".join(paths.values()), KILN_BENCH_THREADS=str(threads))
    out = subprocess.run([os.path.join(build, "kiln_microbench"), "--benchmark_filter=^session/",
                          "--benchmark_format=json", "--benchmark_min_time=1.5s", "--benchmark_repetitions=1"],
                         env=env, check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        res[b["name"].split("/")[1][:-len(".onnx")]] = b["real_time"]  # ms
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    paths = build_models(os.path.join(args.build, "elementwise-models"))
    kiln = time_kiln(paths, args.threads, args.build)
    print(f"threads={args.threads}, ONNX Runtime {ort.__version__}")
    print(f"{'model':<14}{'ORT ms':>10}{'kiln ms':>10}{'kiln/ORT':>10}")
    ratios = []
    for k, p in paths.items():
        o = time_ort(p, args.threads)
        r = kiln[k] / o
        ratios.append(r)
        print(f"{k:<14}{o:>10.3f}{kiln[k]:>10.3f}{r:>10.2f}")
    print(f"{'geomean':<34}{float(np.exp(np.mean(np.log(ratios)))):>10.2f}")


if __name__ == "__main__":
    main()
