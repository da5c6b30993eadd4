"""kiln reduce: a fault injected into one node's kernel output (KILN_TEST_FAULT_NODE, src/runtime/test_fault.h)
is pinned to that node, and the reduced model reproduces it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
import pytest

from conftest import suite_model

ARGS = ["--shape", "input=1x1x16x16", "--no-optimize", "--atol", "1e-4", "--rtol", "1e-4"]


def tool(name: str, *args: str, fault: str = ""):
    env = dict(os.environ)
    env.pop("KILN_TEST_FAULT_NODE", None)
    if fault:
        env["KILN_TEST_FAULT_NODE"] = fault
    return subprocess.run([sys.executable, "-m", "kiln", name, *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize("fault", ["/conv2/Conv", "/relu_2/Relu", "/pixel_shuffle/DepthToSpace"])
def test_a_faulty_node_is_pinned(tmp_path, fault):
    model = str(suite_model("super_resolution"))
    out = tmp_path / "reduced.onnx"
    proc = tool("reduce", model, "-o", str(out), "--json", *ARGS, fault=fault)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["node"] == fault and report["nodes"] == [fault] and report["subgraph_fails"]
    reduced = onnx.load(str(out))
    assert [n.name for n in reduced.graph.node] == [fault]
    inputs = report["inputs_file"]
    # The reduced model shows the failure again, and only with the fault.
    assert tool("compare", str(out), "--inputs", inputs, *ARGS[2:], fault=fault).returncode == 1
    assert tool("compare", str(out), "--inputs", inputs, *ARGS[2:]).returncode == 0


def test_a_good_model_has_nothing_to_reduce(tmp_path):
    proc = tool("reduce", str(suite_model("super_resolution")), "-o", str(tmp_path / "r.onnx"), *ARGS)
    assert proc.returncode == 0 and "nothing to reduce" in proc.stdout, proc.stdout + proc.stderr
    assert not (tmp_path / "r.onnx").exists()


def test_kiln_command_hands_reduce_over(tmp_path):
    binary = os.environ.get("KILN_BINARY")
    if not binary:
        pytest.skip("KILN_BINARY is set by ctest to build/kiln")
    env = dict(os.environ, KILN_TEST_FAULT_NODE="/conv3/Conv")
    proc = subprocess.run([binary, "reduce", str(suite_model("super_resolution")), "-o", str(tmp_path / "r.onnx"),
                           *ARGS], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1 and "'/conv3/Conv' (Conv)" in proc.stdout, proc.stdout + proc.stderr
