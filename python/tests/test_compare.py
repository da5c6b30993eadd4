"""kiln compare: per-output statistics against onnxruntime or saved outputs, the verdict in the exit status,
--json, and --layerwise finding the first diverging tensor."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import kiln
from kiln.tools import compare, layerwise
from kiln.tools.stats import compare_arrays
from conftest import suite_model


def run_tool(*args: str):
    proc = subprocess.run([sys.executable, "-m", "kiln", "compare", *args], capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def test_statistics_of_one_output():
    want = np.array([1.0, 2.0, 0.0, 100.0], np.float32)
    got = want + np.array([0, 1e-6, 1e-3, 1e-2], np.float32)
    r = compare_arrays("y", got, want, atol=1e-5, rtol=1e-5)
    assert not r["passed"] and r["mismatches"] == 2  # 0 vs 1e-3 (rel huge), 100 vs 100.01 (rel 1e-4)
    assert r["abs"]["max"] == pytest.approx(1e-2, rel=1e-3)
    assert sum(h["count"] for h in r["histogram"]) == 4
    # The least tolerances that pass are enough, and a hair less is not.
    for atol, rtol in ((r["min_atol"], 1e-5), (1e-5, r["min_rtol"])):
        assert compare_arrays("y", got, want, atol, rtol)["passed"]
    assert not compare_arrays("y", got, want, r["min_atol"] * 0.99, 1e-5)["passed"]
    # An element passes when either tolerance lets it.
    assert compare_arrays("y", got, want, atol=2e-2, rtol=0)["passed"]
    assert compare_arrays("y", got, want, atol=0, rtol=1e30)["passed"]


def test_nan_is_a_mismatch_and_equal_infinities_are_not():
    want = np.array([np.inf, 1.0, -np.inf], np.float32)
    assert compare_arrays("y", want.copy(), want, 0, 0)["passed"]
    got = np.array([np.inf, np.nan, -np.inf], np.float32)
    r = compare_arrays("y", got, want, 1e9, 1e9)
    assert not r["passed"] and r["nan"] == {"kiln": 1, "reference": 0} and r["min_atol"] == float("inf")
    assert not compare_arrays("y", want.astype(np.float64), want, 1, 1)["passed"]  # dtype differs


def test_model_against_onnxruntime_passes(tmp_path):
    model = str(suite_model("squeezenet1_1"))
    code, out, err = run_tool(model, "--shape", "input=1x3x64x64", "--json", "--atol", "1e-4", "--rtol", "1e-3",
                              "--save-inputs", str(tmp_path / "inputs.npz"))
    assert code == 0, out + err
    report = json.loads(out)
    assert report["passed"] and report["reference"].startswith("onnxruntime")
    [o] = report["outputs"]
    assert o["name"] == "logits" and o["shape"] == [1, 1000] and o["passed"] and o["mismatches"] == 0
    assert o["min_atol"] <= 1e-4 and o["min_rtol"] <= 1e-3
    assert report["inputs"][0]["shape"] == [1, 3, 64, 64] and (tmp_path / "inputs.npz").exists()


def test_saved_outputs_reference_and_failure_exit_status(small_models, tmp_path):
    model = str(small_models["fixed"])
    x = np.random.default_rng(3).standard_normal((1, 3, 4, 4)).astype(np.float32)
    np.save(tmp_path / "image.npy", x)
    s = kiln.InferenceSession(model)
    relu, double = s.run(None, {"image": x})
    np.savez(tmp_path / "good.npz", relu=relu, double=double)
    code, out, _ = run_tool(model, "--input", f"image={tmp_path / 'image.npy'}", "--reference",
                            str(tmp_path / "good.npz"))
    assert code == 0 and "PASS: 2 of 2 outputs" in out, out
    double_bad = double.copy()
    double_bad[0, 1, 2, 3] += 0.5
    np.savez(tmp_path / "bad.npz", relu=relu, double=double_bad)
    code, out, _ = run_tool(model, "--input", f"image={tmp_path / 'image.npy'}", "--reference",
                            str(tmp_path / "bad.npz"))
    assert code == 1 and "FAIL: 1 of 2 outputs" in out and "first mismatch at [0, 1, 2, 3]" in out, out
    folder = tmp_path / "saved"
    folder.mkdir()
    np.save(folder / "relu.npy", relu)
    np.save(folder / "double.npy", double)
    code, out, _ = run_tool(model, "--input", f"image={tmp_path / 'image.npy'}", "--reference", str(folder))
    assert code == 0, out


def test_errors_exit_2(tmp_path):
    code, _, err = run_tool(str(tmp_path / "missing.onnx"))
    assert code == 2 and "NoSuchFile" in err


def test_kiln_command_hands_over_to_the_package(small_models):
    binary = os.environ.get("KILN_BINARY")
    if not binary:
        pytest.skip("KILN_BINARY is set by ctest to build/kiln")
    proc = subprocess.run([binary, "compare", str(small_models["add"]), "--shape", "x=2x3", "--shape", "y=2x3"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "PASS: 1 of 1" in proc.stdout, proc.stdout + proc.stderr
    help_text = subprocess.run([binary, "compare", "--help"], capture_output=True, text=True).stdout
    assert "--layerwise" in help_text


class FaultySession(kiln.InferenceSession):
    """kiln with a fault in one node's output (what --layerwise must find)."""
    fault = ""

    def run(self, output_names, input_feed, run_options=None):
        out = super().run(output_names, input_feed, run_options)
        names = list(output_names or [o.name for o in self.get_outputs()])
        return [v + np.float32(0.25) if n == self.fault else v for n, v in zip(names, out)]


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_layerwise_finds_the_first_diverging_tensor(monkeypatch, capsys, chunk):
    model = str(suite_model("super_resolution"))
    import onnx
    values = layerwise.graph_values(onnx.load(model))
    victim = values[len(values) // 2]
    FaultySession.fault = victim[0]
    monkeypatch.setattr(layerwise, "InferenceSession", FaultySession)
    code = compare.main([model, "--layerwise", "--chunk", str(chunk), "--shape", "input=1x1x16x16", "--json",
                         "--atol", "1e-4", "--rtol", "1e-4"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["passed"]
    bad = report["first_divergence"]
    assert bad["name"] == victim[0] and bad["node"] == victim[1].name and bad["op_type"] == victim[1].op_type
    assert report["compared"] == len(values) // 2 + 1


def test_layerwise_passes_a_good_model(capsys):
    model = str(suite_model("super_resolution"))
    code = compare.main([model, "--layerwise", "--shape", "input=1x1x16x16", "--atol", "1e-4", "--rtol", "1e-3"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS: all" in out, out


@pytest.mark.parametrize("name", ["resnet18", "bert", "gpt", "lstm", "vit", "segmentation"])
def test_compare_on_the_model_suite(tmp_path, name):
    from conftest import suite_feeds
    np.savez(tmp_path / "inputs.npz", **suite_feeds(name))
    code, out, err = run_tool(str(suite_model(name)), "--inputs", str(tmp_path / "inputs.npz"), "--json",
                              "--atol", "1e-4", "--rtol", "1e-3", "--threads", "1")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["passed"] and all(i["shape"] for i in report["inputs"])
