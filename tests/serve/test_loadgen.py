"""kiln-loadgen (tools/loadgen, the load of `make bench-serve`) against kiln serve on loopback: a few requests per
protocol, every one answered and checked, and the JSON it prints; a wrong model name counted as failed, with a
non-zero exit. Environment: KILN_LOADGEN (tests/serve/CMakeLists.txt sets it) beside conftest.py's."""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from conftest import REPO, WORK, demo_and_tiny_repository, start_server, stop_server

LOADGEN = pathlib.Path(os.environ.get("KILN_LOADGEN", REPO / "build" / "kiln-loadgen"))
PROTOCOLS = ("grpc", "http-binary", "http-json")


@pytest.fixture(scope="module")
def server():
    """This suite needs no model from the suite's cache."""
    repo = demo_and_tiny_repository(WORK / "repository_loadgen")
    s = start_server(repo)
    yield s
    stop_server(s)


def loadgen(server, protocol, *args):
    url = server.grpc_url if protocol == "grpc" else server.http_url
    run = subprocess.run([str(LOADGEN), "--url", url, "--protocol", protocol, "--json", *args],
                         capture_output=True, text=True, timeout=60)
    return run.returncode, json.loads(run.stdout) if run.stdout else None, run.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_request_answered(server, protocol):
    code, out, err = loadgen(server, protocol, "--model", "super_resolution", "--shape", "input=1x1x16x16",
                             "--clients", "3", "--requests", "12", "--seconds", "20")
    assert code == 0, err
    assert (out["protocol"], out["clients"], out["count"], out["failed"]) == (protocol, 3, 12, 0)
    assert out["first_failure"] is None
    lat = out["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"] <= 1000 * out["seconds"]
    assert out["throughput_per_s"] == pytest.approx(12 / out["seconds"])
    assert 0 <= out["client_cpu_ms_per_request"] <= 1000 * out["client_cpu_seconds"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_input_from_a_file(server, protocol, tmp_path):
    """An INT64 input from a .npy file, two outputs: the answer checks hold for other types than FP32."""
    np.save(tmp_path / "a.npy", np.arange(-4, 4, dtype=np.int64).reshape(2, 4))
    code, out, err = loadgen(server, protocol, "--model", "int64_ops", "--input", f"a={tmp_path / 'a.npy'}",
                             "--requests", "5")
    assert code == 0, err
    assert (out["count"], out["failed"]) == (5, 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_model_fails(server, protocol):
    code, out, _ = loadgen(server, protocol, "--model", "no_such_model", "--shape", "input=1x1x16x16",
                           "--requests", "4")
    assert code == 1
    assert (out["count"], out["failed"]) == (0, 4)
    assert "no_such_model" in out["first_failure"]


def test_wrong_input_shape_fails(server):
    """The server refuses the request (400): failed, and what it said is reported."""
    code, out, _ = loadgen(server, "http-binary", "--model", "super_resolution", "--shape", "input=1x2x16x16",
                           "--requests", "2")
    assert code == 1 and (out["count"], out["failed"]) == (0, 2)
    assert out["first_failure"].startswith("HTTP 400")


def test_unbounded_run_refused():
    run = subprocess.run([str(LOADGEN), "--url", "127.0.0.1:1", "--model", "m", "--shape", "x=1",
                          "--requests", "0", "--seconds", "0"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "bounded" in run.stderr
