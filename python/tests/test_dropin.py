"""The drop-in test: code written for ONNX Runtime runs on kiln by changing one import line."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent / "dropin"
KILN_IMPORT = {"import onnxruntime\n": "import kiln as onnxruntime\n",
               "import onnxruntime as ort\n": "import kiln as ort\n"}


def run_script(source: str, folder: pathlib.Path, args) -> str:
    script = folder / "script.py"
    script.write_text(source)
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def on_kiln(source: str) -> str:
    """The script with its onnxruntime import line, and nothing else, changed to import kiln."""
    for original, replacement in KILN_IMPORT.items():
        if original in source:
            return source.replace(original, replacement, 1)
    raise AssertionError("no onnxruntime import line in the script")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("dropin")
    path = folder / "model.onnx"
    run_script((HERE / "verify_export.py").read_text(), folder, [path])  # exports and checks with onnxruntime
    return path


@pytest.mark.parametrize("runtime", ["onnxruntime", "kiln"])
def test_export_verification_snippet(tmp_path, runtime):
    source = (HERE / "verify_export.py").read_text()
    if runtime == "kiln":
        source = on_kiln(source)
        assert "import kiln as onnxruntime" in source
    assert "snippet ok" in run_script(source, tmp_path, [tmp_path / "model.onnx"])


@pytest.mark.parametrize("runtime", ["onnxruntime", "kiln"])
def test_usage_patterns(exported, tmp_path, runtime):
    source = (HERE / "usage_patterns.py").read_text()
    if runtime == "kiln":
        source = on_kiln(source)
        assert "import kiln as ort" in source
    assert "patterns ok" in run_script(source, tmp_path, [exported])
