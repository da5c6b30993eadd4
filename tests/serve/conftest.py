"""Fixtures of the serve tests: a model repository and a running `kiln serve` on loopback.

The repository holds the bundled demo model, squeezenet1_1 from the model suite's cache (exported there first
when missing), and tiny models built with onnx.helper for the types the suite's models lack: INT64, BOOL, BYTES
(string) and FP16, and two of them again with dynamic batching configured. The server listens on ports the system picks (port 0); its first lines say which.
Environment (tests/serve/CMakeLists.txt sets it): KILN_BINARY, KILN_MODEL_CACHE, KILN_SERVE_WORK.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "models"))
import export_models  # noqa: E402

KILN = pathlib.Path(os.environ.get("KILN_BINARY", REPO / "build" / "kiln"))
MODEL_CACHE = pathlib.Path(os.environ.get("KILN_MODEL_CACHE", REPO / "build" / "model-cache"))
WORK = pathlib.Path(os.environ.get("KILN_SERVE_WORK", REPO / "build" / "serve-tests"))
STARTUP_SECONDS = 120


def _save(model_dir: pathlib.Path, graph) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(model_dir / "model.onnx"))


def _tiny_models(repo: pathlib.Path) -> None:
    """Models whose outputs are known exactly: one per datatype the served suite models lack."""
    v = helper.make_tensor_value_info
    _save(repo / "int64_ops", helper.make_graph(
        [helper.make_node("Add", ["a", "a"], ["doubled"]), helper.make_node("Neg", ["a"], ["negated"])],
        "int64_ops", [v("a", TensorProto.INT64, ["n", 4])],
        [v("doubled", TensorProto.INT64, ["n", 4]), v("negated", TensorProto.INT64, ["n", 4])]))
    _save(repo / "bool_not", helper.make_graph(
        [helper.make_node("Not", ["b"], ["not_b"])], "bool_not",
        [v("b", TensorProto.BOOL, ["n"])], [v("not_b", TensorProto.BOOL, ["n"])]))
    _save(repo / "bytes_identity", helper.make_graph(
        [helper.make_node("Identity", ["s"], ["same"])], "bytes_identity",
        [v("s", TensorProto.STRING, ["n"])], [v("same", TensorProto.STRING, ["n"])]))
    # Every other numeric datatype of the protocol, each passed through (NumPy has no bfloat16: BF16 is untested).
    kinds = {"UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16, "UINT32": TensorProto.UINT32,
             "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8, "INT16": TensorProto.INT16,
             "INT32": TensorProto.INT32, "FP64": TensorProto.DOUBLE}
    _save(repo / "all_types", helper.make_graph(
        [helper.make_node("Identity", [f"x_{k}"], [f"y_{k}"]) for k in kinds], "all_types",
        [v(f"x_{k}", t, ["n"]) for k, t in kinds.items()], [v(f"y_{k}", t, ["n"]) for k, t in kinds.items()]))
    _save(repo / "fp16_double", helper.make_graph(
        [helper.make_node("Add", ["h", "h"], ["h2"])], "fp16_double",
        [v("h", TensorProto.FLOAT16, [2, 3])], [v("h2", TensorProto.FLOAT16, [2, 3])]))


def demo_and_tiny_repository(repo: pathlib.Path) -> pathlib.Path:
    """A fresh repository at `repo` of the demo model and the tiny models: none of them from the suite's cache."""
    if repo.exists():
        shutil.rmtree(repo)
    _tiny_models(repo)
    (repo / "super_resolution").mkdir()
    shutil.copy(REPO / "models" / "super_resolution.onnx", repo / "super_resolution" / "model.onnx")
    return repo


@pytest.fixture(scope="session")
def model_repository() -> pathlib.Path:
    repo = demo_and_tiny_repository(WORK / "repository")
    # Dynamic batching (config.json): the demo model batched, and a small one with a queue of 2 for the 503 case.
    (repo / "super_resolution_batched").mkdir()
    shutil.copy(REPO / "models" / "super_resolution.onnx", repo / "super_resolution_batched" / "model.onnx")
    (repo / "super_resolution_batched" / "config.json").write_text(
        json.dumps({"max_batch_size": 16, "max_queue_delay_us": 300000}))
    shutil.copytree(repo / "int64_ops", repo / "int64_batched")
    (repo / "int64_batched" / "config.json").write_text(
        json.dumps({"max_batch_size": 16, "max_queue_delay_us": 300000}))
    shutil.copytree(repo / "int64_ops", repo / "int64_short_queue")
    (repo / "int64_short_queue" / "config.json").write_text(
        json.dumps({"max_batch_size": 4, "max_queue_delay_us": 600000, "max_queue_size": 2}))
    squeezenet = export_models.ensure_exported("squeezenet1_1", MODEL_CACHE, log=lambda *_: None)
    (repo / "squeezenet1_1").mkdir()
    shutil.copy(squeezenet, repo / "squeezenet1_1" / "model.onnx")
    return repo


def sub_repository(model_repository: pathlib.Path, name: str, models: dict) -> pathlib.Path:
    """A repository of its own under WORK/name: {model: (folder in model_repository to copy, config or None)}."""
    path = WORK / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    for model, (source, config) in models.items():
        shutil.copytree(model_repository / source, path / model)
        if config is not None:
            (path / model / "config.json").write_text(json.dumps(config))
    return path


class RunningServer:
    def __init__(self, process: subprocess.Popen, ports: dict, startup: list = ()):
        self.process = process
        self.startup = list(startup)  # the lines printed up to "ready" (or the ports)
        self.http_port, self.grpc_port, self.metrics_port = ports["HTTP"], ports["gRPC"], ports["metrics"]
        self.http_url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"


def start_server(repo: pathlib.Path, *extra: str, wait_ready: bool = True, env: dict = None,
                 test_ports: bool = True, prefix: tuple = ()) -> RunningServer:
    """Starts kiln serve (with test_ports: on ports the system picks, one intra-op thread); returns once its
    ports are printed and, with wait_ready, once every model is loaded."""
    defaults = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--threads", "1"] if test_ports else []
    process = subprocess.Popen(
        [*prefix, str(KILN), "serve", str(repo), *defaults, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=dict(os.environ, **(env or {})))
    ports, lines = {}, []
    deadline = time.monotonic() + STARTUP_SECONDS
    while len(ports) < 3 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.match(r"kiln serve: (HTTP|gRPC|metrics) on [^ ]+:(\d+)$", line.strip())
        if m:
            ports[m.group(1)] = int(m.group(2))
    while wait_ready and len(ports) == 3 and time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if not line or line.strip() == "kiln serve: ready":
            break
    if len(ports) < 3 or (wait_ready and lines[-1].strip() != "kiln serve: ready"):
        process.kill()
        raise RuntimeError("kiln serve did not start:\n" + "".join(lines) + process.stdout.read())
    return RunningServer(process, ports, lines)


def stop_server(server: RunningServer) -> str:
    """SIGTERM; asserts exit code 0; returns what the server printed after start-up."""
    server.process.send_signal(signal.SIGTERM)
    out, _ = server.process.communicate(timeout=60)
    print(out)  # shown by pytest when the test fails
    assert server.process.returncode == 0, f"kiln serve exited {server.process.returncode}:\n{out}"
    return out


@pytest.fixture(scope="session")
def server(model_repository):
    s = start_server(model_repository)
    yield s
    stop_server(s)


@pytest.fixture(scope="session")
def kiln_run(tmp_path_factory):
    """Runs a model in-process with `kiln run` (same thread count as the server) and returns its outputs."""
    def run(model: pathlib.Path, feeds: dict) -> dict:
        work = tmp_path_factory.mktemp("kiln_run")
        args = [str(KILN), "run", str(model), "--output-dir", str(work / "out"), "--threads", "1"]
        for name, array in feeds.items():
            np.save(work / f"{name}.npy", array)
            args += ["--input", f"{name}={work / (name + '.npy')}"]
        subprocess.run(args, check=True, capture_output=True, text=True)
        return {p.stem: np.load(p) for p in (work / "out").glob("*.npy")}
    return run
