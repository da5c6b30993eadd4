"""Engines (`kiln build`, .kiln files) through the Python package: InferenceSession takes them as it takes ONNX
files, gives the ONNX file's outputs inside the profile, and refuses a shape outside it with ORT's exception."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

import kiln


def build_engine(model, path, *profile):
    binary = os.environ.get("KILN_BINARY")
    if not binary:
        pytest.skip("KILN_BINARY is set by ctest to build/kiln")
    proc = subprocess.run([binary, "build", str(model), "-o", str(path), *profile], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return path


def test_engine_runs_like_its_model_inside_the_profile(small_models, tmp_path):
    engine = build_engine(small_models["matmul"], tmp_path / "matmul.kiln",
                          "--min", "a=1x512", "--opt", "a=4x512", "--max", "a=8x512")
    from_model = kiln.InferenceSession(str(small_models["matmul"]))
    from_engine = kiln.InferenceSession(str(engine))
    assert [i.name for i in from_engine.get_inputs()] == ["a"]
    for rows in (1, 5, 8):
        a = np.random.default_rng(rows).standard_normal((rows, 512)).astype(np.float32)
        want = from_model.run(None, {"a": a})[0]
        got = from_engine.run(None, {"a": a})[0]
        np.testing.assert_array_equal(got, want)


def test_engine_refuses_a_shape_outside_its_profile(small_models, tmp_path):
    engine = build_engine(small_models["matmul"], tmp_path / "matmul.kiln",
                          "--min", "a=1x512", "--opt", "a=2x512", "--max", "a=4x512")
    session = kiln.InferenceSession(str(engine))
    with pytest.raises(kiln.InvalidArgument) as info:  # ORT's class for feeds of the wrong shape
        session.run(None, {"a": np.zeros((9, 512), np.float32)})
    message = str(info.value)
    assert "input 'a' dim 0 is 9, outside the range 1..4" in message, message
    assert "--max a=9x512" in message, message
