"""kiln's pooling, resize and data-movement kernels side by side with ONNX Runtime, at 1 and 2 threads.

    .venv/bin/python benchmarks/movement/compare_ort.py [ops] [models] [--runs N]

ops: one-node models (onnx helper) of MaxPool, AveragePool, the global pools, Resize (bilinear x2/x4 with
half_pixel and align_corners, nearest x2), Concat and Transpose. models: LRASPP-MobileNetV3-Large and a small
U-Net exported by segmentation_models.py (random weights), whole-model latency. Columns: kiln with KILN_ISA=ref
(the reference kernels: what the fast kernels replace), kiln, ORT, kiln/ORT. One thread is timed as the process's
CPU time (steadier on a shared machine), two threads as wall time. Needs the release build (build/).
Outputs of one-node models are graph outputs, which kiln allocates (and zero-fills) per run where ORT reuses its
arena: for the memory-bound ops that is a large part of kiln's time (compare an Identity of the same size)."""
import os, subprocess, sys, time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(ROOT, "build", "movement-bench")
TIMER = os.path.join(WORK, "timer")


def build_timer():
    os.makedirs(WORK, exist_ok=True)
    lib = os.path.join(ROOT, "build", "libkiln_core.a")
    if os.path.exists(TIMER) and os.path.getmtime(TIMER) > os.path.getmtime(lib):
        return
    subprocess.run(["g++", "-O2", "-std=c++20", f"-I{ROOT}/include", f"-I{ROOT}/src", os.path.join(HERE, "timer.cpp"),
                    "-o", TIMER, "-Wl,--whole-archive", lib, "-Wl,--no-whole-archive", "-lfmt", "-lcpuinfo",
                    "-lpthreadpool", "-lpthread"], check=True)


def one_node(name, op, inputs, attrs=None, inits=(), extra_inputs=(), opset=18):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    node = helper.make_node(op, [n for n, _ in inputs] + list(extra_inputs), ["y"], **(attrs or {}))
    graph = helper.make_graph([node], name, ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    path = os.path.join(WORK, name + ".onnx")
    onnx.save(model, path)
    return path


def op_cases():
    scales = lambda s: [numpy_helper.from_array(np.array([1, 1, s, s], np.float32), "scales")]
    x = lambda *shape: [("x", list(shape))]
    cases = [
        ("MaxPool 3x3/2 pad 1, 1x64x112x112", one_node("maxpool3", "MaxPool", x(1, 64, 112, 112),
                                                        dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))),
        ("MaxPool 2x2/2, 1x128x56x56", one_node("maxpool2", "MaxPool", x(1, 128, 56, 56), dict(kernel_shape=[2, 2], strides=[2, 2]))),
        ("AveragePool 3x3/1 pad 1, 1x256x28x28", one_node("avgpool", "AveragePool", x(1, 256, 28, 28),
                                                           dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]))),
        ("GlobalAveragePool 1x2048x7x7", one_node("gap", "GlobalAveragePool", x(1, 2048, 7, 7))),
        ("GlobalAveragePool 1x256x56x56", one_node("gap2", "GlobalAveragePool", x(1, 256, 56, 56))),
        ("GlobalMaxPool 1x512x14x14", one_node("gmp", "GlobalMaxPool", x(1, 512, 14, 14))),
    ]
    for mode, coord, shape, s in [("linear", "half_pixel", (1, 64, 64, 64), 2), ("linear", "align_corners", (1, 64, 64, 64), 2),
                                  ("linear", "half_pixel", (1, 21, 64, 64), 4), ("linear", "align_corners", (1, 21, 64, 64), 4),
                                  ("nearest", "asymmetric", (1, 64, 64, 64), 2)]:
        attrs = dict(mode=mode, coordinate_transformation_mode=coord, nearest_mode="floor")
        cases.append((f"Resize {mode} {coord} x{s}, {'x'.join(map(str, shape))}",
                      one_node(f"resize_{mode}_{coord}_{s}", "Resize", x(*shape), attrs, scales(s), ["", "scales"])))
    cases += [
        ("Concat axis 1, 2 x 1x64x56x56", one_node("concat", "Concat", [("a", [1, 64, 56, 56]), ("b", [1, 64, 56, 56])], dict(axis=1))),
        ("Transpose 0,2,3,1 of 1x64x56x56", one_node("tr0231", "Transpose", x(1, 64, 56, 56), dict(perm=[0, 2, 3, 1]))),
        ("Transpose 0,3,1,2 of 1x56x56x64", one_node("tr0312", "Transpose", x(1, 56, 56, 64), dict(perm=[0, 3, 1, 2]))),
        ("Transpose 0,2,1,3 of 1x128x12x64", one_node("tr0213", "Transpose", x(1, 128, 12, 64), dict(perm=[0, 2, 1, 3]))),
        ("Transpose 1,0 of 1024x1024", one_node("tr2d", "Transpose", x(1024, 1024), dict(perm=[1, 0]))),
        ("Identity 1x128x56x56 (the per-run output cost)", one_node("identity", "Identity", x(1, 128, 56, 56))),
    ]
    return cases


def model_cases():
    paths = [os.path.join(WORK, m + ".onnx") for m in ("unet", "lraspp")]
    if not all(map(os.path.exists, paths)):
        subprocess.run([sys.executable, os.path.join(HERE, "segmentation_models.py"), WORK], check=True)
    return [("U-Net 1x3x256x256 (bilinear x2, align_corners)", paths[0]),
            ("LRASPP MobileNetV3-L 1x3x512x512", paths[1])]


def ort_ms(path, threads, warmup, runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).uniform(-1, 1, [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
             for i in s.get_inputs()}
    for _ in range(warmup):
        s.run(None, feeds)
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        s.run(None, feeds)
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return float(np.median(cpu if threads == 1 else wall))


def kiln_ms(path, threads, warmup, runs, isa=None):
    env = dict(os.environ)
    if isa:
        env["KILN_ISA"] = isa
    out = subprocess.run([TIMER, path, str(threads), str(warmup), str(runs)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    wall, _, cpu = map(float, out.stdout.split())
    return cpu if threads == 1 else wall


def main(argv):
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 30
    which = [a for a in argv if a in ("ops", "models")] or ["ops", "models"]
    build_timer()
    cases = (op_cases() if "ops" in which else []) + (model_cases() if "models" in which else [])
    print(f"{'case':50s} {'thr':>3s} {'kiln-ref':>9s} {'kiln':>9s} {'ORT':>9s} {'kiln/ORT':>8s}   (ms)")
    for name, path in cases:
        heavy = "U-Net" in name or "LRASPP" in name
        n = 3 if heavy else runs
        for threads in (1, 2):
            ref = kiln_ms(path, threads, 1, 1 if heavy else max(3, n // 10), "ref")
            k = kiln_ms(path, threads, 2, n)
            o = ort_ms(path, threads, 2, n)
            print(f"{name:50s} {threads:3d} {ref:9.3f} {k:9.3f} {o:9.3f} {k / o:8.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
