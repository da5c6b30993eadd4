"""The HTTP transport's write path and worker count, through real sockets: a binary answer goes out in one
gathered write (head, JSON, then each output straight from its tensor), which must reassemble exactly however
the client reads it; a client that does not read its answer holds no worker and no other connection; the
inference workers each protocol gets by default follow the CPUs the process may use (and a model's config).
On gRPC, many inferences at once on few or many workers each answer their own request, and health calls are
answered while they run."""
import json
import os
import re
import shutil
import socket
import subprocess

import threading

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from conftest import KILN, WORK, demo_and_tiny_repository, start_server, stop_server

NUMPY_OF = {"INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
            "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "FP64": np.float64}


@pytest.fixture(scope="module")
def repository():
    return demo_and_tiny_repository(WORK / "transport_repository")


@pytest.fixture(scope="module")
def server(repository):
    # One HTTP worker: were a reply's write to hold the worker, a client that does not read would stop the rest.
    s = start_server(repository, "--http-threads", "1")
    yield s
    stop_server(s)


def binary_request(model: str, inputs: dict, outputs: list) -> bytes:
    """A POST .../infer with every input binary; `outputs`: [(name, binary)]."""
    header = {"inputs": [{"name": n, "shape": list(a.shape), "datatype": d,
                          "parameters": {"binary_data_size": a.nbytes}} for n, (d, a) in inputs.items()],
              "outputs": [{"name": n, "parameters": {"binary_data": b}} for n, b in outputs]}
    head_json = json.dumps(header).encode()
    body = head_json + b"".join(a.tobytes() for _, a in inputs.values())
    return (f"POST /v2/models/{model}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Inference-Header-Content-Length: {len(head_json)}\r\n\r\n").encode() + body


def connect(server, rcvbuf: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: the window stays small
    s.settimeout(60)
    s.connect(("127.0.0.1", server.http_port))
    return s


def read_reply(s: socket.socket, chunk: int = 65536):
    """(status, headers, body), reading `chunk` bytes at a time."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(chunk)
        assert got, f"connection closed before a reply; got {data[:200]!r}"
        data += got
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    parts = [rest]
    have = len(rest)
    while have < length:
        got = s.recv(min(chunk, length - have))
        assert got, f"connection closed after {have} of {length} body bytes"
        parts.append(got)
        have += len(got)
    body = b"".join(parts)
    assert len(body) == length
    return int(lines[0].split()[1]), headers, body


def decode_outputs(headers: dict, body: bytes) -> dict:
    """{name: array} of a binary-extension answer (JSON outputs as given, binary ones from the bytes after it)."""
    json_size = int(headers.get("inference-header-content-length", len(body)))
    answer = json.loads(body[:json_size])
    pos, out = json_size, {}
    for o in answer["outputs"]:
        dtype = NUMPY_OF[o["datatype"]]
        size = o.get("parameters", {}).get("binary_data_size")
        if size is None:
            out[o["name"]] = np.array(o["data"], dtype=dtype).reshape(o["shape"])
        else:
            out[o["name"]] = np.frombuffer(body[pos:pos + size], dtype=dtype).reshape(o["shape"])
            pos += size
    assert pos == len(body), f"{len(body) - pos} bytes after the last output"
    return out


def test_large_binary_answer_reassembles_exactly(server):
    """Two 9.6 MB outputs after the JSON, read by a client with a 4 KiB receive window in odd-sized chunks:
    the server's write stops and resumes many times, mid-piece, and the bytes come out exactly."""
    a = np.arange(1_200_000, dtype=np.int64).reshape(-1, 4) * 7919 - 3_000_000
    for outputs in ([("doubled", True), ("negated", True)], [("negated", True), ("doubled", True)]):
        with connect(server, rcvbuf=4096) as s:
            s.sendall(binary_request("int64_ops", {"a": ("INT64", a)}, outputs))
            status, headers, body = read_reply(s, chunk=7001)
        assert status == 200, body[:300]
        assert headers["content-type"] == "application/octet-stream"
        got = decode_outputs(headers, body)
        assert [n for n, _ in outputs] == list(got)
        np.testing.assert_array_equal(got["doubled"], a * 2)
        np.testing.assert_array_equal(got["negated"], -a)


def test_mixed_json_and_binary_outputs_and_many_pieces(server):
    """One output in JSON, one binary; then eight binary outputs of eight datatypes (eight tensor pieces)."""
    a = np.array([[1, -2, 3, 1 << 40]], dtype=np.int64)
    with connect(server) as s:
        s.sendall(binary_request("int64_ops", {"a": ("INT64", a)}, [("doubled", False), ("negated", True)]))
        status, headers, body = read_reply(s, chunk=3)
    assert status == 200, body
    got = decode_outputs(headers, body)
    np.testing.assert_array_equal(got["doubled"], a * 2)
    np.testing.assert_array_equal(got["negated"], -a)

    rng = np.random.default_rng(5)
    inputs = {f"x_{k}": (k, rng.integers(0, 100, size=1000 + 37 * i).astype(t)) for i, (k, t) in
              enumerate(NUMPY_OF.items()) if k != "INT64"}
    with connect(server) as s:
        s.sendall(binary_request("all_types", inputs, [(f"y_{k}", True) for k in NUMPY_OF if k != "INT64"]))
        status, headers, body = read_reply(s)
    assert status == 200, body[:300]
    got = decode_outputs(headers, body)
    assert len(got) == 8
    for k, (_, x) in ((n[2:], v) for n, v in inputs.items()):
        assert got[f"y_{k}"].dtype == x.dtype
        np.testing.assert_array_equal(got[f"y_{k}"], x)


def test_slow_reader_blocks_no_one(server):
    """A client that asks for a 19 MB answer and reads none of it: with the server's one HTTP worker, other
    connections still get health and inference answers; then the slow client reads its answer, exact."""
    big = np.arange(2_400_000, dtype=np.int64).reshape(-1, 4)
    small = np.array([[1, 2, 3, 4]], dtype=np.int64)
    slow = connect(server, rcvbuf=4096)
    try:
        slow.sendall(binary_request("int64_ops", {"a": ("INT64", big)}, [("doubled", True), ("negated", True)]))
        slow.recv(1, socket.MSG_PEEK)  # its answer has started: the write is pending on a full window
        for _ in range(3):
            with connect(server) as s:
                s.settimeout(20)
                s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert read_reply(s)[0] == 200
            with connect(server) as s:
                s.settimeout(20)
                s.sendall(binary_request("int64_ops", {"a": ("INT64", small)}, [("doubled", True)]))
                status, headers, body = read_reply(s)
                assert status == 200, body
                np.testing.assert_array_equal(decode_outputs(headers, body)["doubled"], small * 2)
        status, headers, body = read_reply(slow, chunk=1 << 20)
        assert status == 200
        got = decode_outputs(headers, body)
        np.testing.assert_array_equal(got["doubled"], big * 2)
        np.testing.assert_array_equal(got["negated"], -big)
    finally:
        slow.close()


def workers_of(server) -> tuple:
    for line in server.startup:
        m = re.match(r"kiln serve: inference workers: HTTP (\d+), gRPC (\d+)$", line.strip())
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AssertionError("no inference workers line in:\n" + "".join(server.startup))


def session_threads(prefix=()) -> int:
    """The threads a session takes by default (the CPUs the process may use), as `kiln info` says."""
    info = subprocess.run([*prefix, str(KILN), "info"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"a session uses (\d+) by default", info).group(1))


def started(repo, *args, prefix=()):
    s = start_server(repo, *args, prefix=prefix)
    try:
        return workers_of(s)
    finally:
        stop_server(s)


def test_default_workers_follow_cpu_count(repository):
    cpus = sorted(os.sched_getaffinity(0))
    one_cpu = ("taskset", "-c", str(cpus[0]))
    assert started(repository, prefix=one_cpu) == (1, 1)
    assert started(repository) == (session_threads(),) * 2
    if len(cpus) >= 2:
        two = ("taskset", "-c", f"{cpus[0]},{cpus[1]}")
        assert started(repository, prefix=two) == (session_threads(two),) * 2
    # The flags still set them.
    assert started(repository, "--http-threads", "3", "--grpc-threads", "5", prefix=one_cpu) == (3, 5)


def test_default_workers_cover_batching_and_instances(repository):
    """A batching model needs max_batch_size x instances workers to fill its batches; instances of an unbatched
    model need as many to run at once: the default gives that much even on one CPU."""
    one_cpu = ("taskset", "-c", str(sorted(os.sched_getaffinity(0))[0]))
    repo = WORK / "transport_batching"
    for name, config, expected in (("batched", {"max_batch_size": 6, "instances": 2}, 12),
                                   ("instances", {"instances": 3}, 3)):
        path = repo / name
        if path.exists():
            shutil.rmtree(path)
        (path / "int64_ops").mkdir(parents=True)
        (path / "int64_ops" / "model.onnx").write_bytes((repository / "int64_ops" / "model.onnx").read_bytes())
        (path / "int64_ops" / "config.json").write_text(json.dumps(config))
        assert started(path, prefix=one_cpu) == (expected, expected)


@pytest.mark.parametrize("grpc_threads", ["1", "2", "64"])
def test_grpc_concurrent_inferences_each_get_their_answer(repository, grpc_threads):
    """12 gRPC clients at once, each sending its own data 5 times, on one worker (the others wait their turn),
    two, and 64 (more workers than gRPC's callback threads). Every answer is its own request's; ServerLive
    answers meanwhile."""
    s = start_server(repository, "--grpc-threads", grpc_threads)
    errors = []

    def client(k: int):
        try:
            c = grpcclient.InferenceServerClient(s.grpc_url)
            for i in range(5):
                a = np.arange(4000, dtype=np.int64).reshape(-1, 4) * (k + 1) + i
                x = grpcclient.InferInput("a", list(a.shape), "INT64")
                x.set_data_from_numpy(a)
                r = c.infer("int64_ops", [x], outputs=[grpcclient.InferRequestedOutput("doubled")])
                np.testing.assert_array_equal(r.as_numpy("doubled"), a * 2)
        except Exception as e:  # noqa: BLE001 (reported below, with the client's number)
            errors.append(f"client {k}: {e!r}")

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
        for t in threads:
            t.start()
        live = grpcclient.InferenceServerClient(s.grpc_url)
        for _ in range(5):
            assert live.is_server_live()
        for t in threads:
            t.join(120)
        assert not errors, errors
    finally:
        stop_server(s)
