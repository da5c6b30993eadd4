"""Hostile and mistaken requests through real sockets: each gets a clear refusal (status and a message naming
what was wrong) and the server keeps serving. The default 64 MiB body cap is tested at its edges: 128 bytes
under is answered, 128 bytes over is refused from the header alone, before the body is sent."""
import json
import socket
import struct
import time

import numpy as np
import pytest

from conftest import start_server, stop_server

CAP = 64 << 20


def http_exchange(server, head: bytes, body: bytes = b"", half_close: bool = False, timeout: float = 30.0):
    """Sends raw bytes, returns (status, headers, body) of the reply (the connection is closed by the request)."""
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=timeout) as s:
        s.sendall(head + body)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_reply(s)


def read_reply(s: socket.socket):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a reply; got {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def post(server, path: str, body: bytes, extra_headers: str = "", half_close=False):
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
            f"{extra_headers}\r\n").encode()
    return http_exchange(server, head, body, half_close=half_close)


def infer_json(server, model: str, request: dict, extra_headers: str = ""):
    return post(server, f"/v2/models/{model}/infer", json.dumps(request).encode(), extra_headers)


def assert_refused(reply, status: int, *words: str):
    code, _, body = reply
    assert code == status, (code, body)
    message = json.loads(body)["error"]
    for w in words:
        assert w in message, f"{w!r} not in {message!r}"


def assert_still_serving(server):
    code, _, _ = http_exchange(server, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert code == 200
    code, _, body = infer_json(server, "int64_ops", {"inputs": [
        {"name": "a", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}]})
    assert code == 200, body
    assert json.loads(body)["outputs"][0]["data"] == [2, 4, 6, 8]


def a_input(**overrides):
    tensor = {"name": "a", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}
    tensor.update(overrides)
    return {"inputs": [tensor]}


CASES = {
    "element_count": (a_input(data=[1, 2, 3]), 400, ["3 elements", "[1, 4]", "needs 4"]),
    "nested_data_wrong_count": (a_input(data=[[1, 2], [3]]), 400, ["3 elements"]),
    "unknown_input": (a_input(name="b"), 400, ["no input 'b'", "'a'"]),
    "wrong_dtype": (a_input(datatype="INT32"), 400, ["INT64", "INT32"]),
    "unknown_datatype": (a_input(datatype="FP128"), 400, ["unknown datatype", "FP128"]),
    "value_of_wrong_kind": (a_input(data=[1, "two", 3, 4]), 400, ["element 1", "a string"]),
    "wrong_rank": (a_input(shape=[4], data=[1, 2, 3, 4]), 400, ["[-1, 4]", "[4]"]),
    "negative_dim": (a_input(shape=[-1, 4]), 400, ["shape"]),
    "unknown_output": (dict(a_input(), outputs=[{"name": "nope"}]), 400, ["no output 'nope'", "'doubled'"]),
    "missing_input": ({"inputs": []}, 400, ["input 'a'", "missing"]),
    "no_inputs_key": ({"id": "x"}, 400, ["\"inputs\""]),
    "input_twice": ({"inputs": a_input()["inputs"] * 2}, 400, ["twice"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_infer_json(server, case):
    request, status, words = CASES[case]
    assert_refused(infer_json(server, "int64_ops", request), status, *words)
    assert_still_serving(server)


def test_nested_nested_nested_json(server):
    depth = 100_000
    body = b'{"inputs": [{"name": "a", "shape": [1], "datatype": "INT64", "data": ' + b"[" * depth + b"1" + \
        b"]" * depth + b"}]}"
    assert_refused(post(server, "/v2/models/int64_ops/infer", body), 400, "nested more than 64")
    assert_still_serving(server)


def test_not_json(server):
    assert_refused(post(server, "/v2/models/int64_ops/infer", b"{\"inputs\": [1, 2"), 400, "not valid JSON")
    assert_still_serving(server)


def test_unknown_model_and_path(server):
    assert_refused(infer_json(server, "no_such_model", a_input()), 404, "unknown model 'no_such_model'")
    assert_refused(infer_json(server, "int64_ops/versions/7", a_input()), 404, "no version '7'")
    code, _, body = http_exchange(server, b"GET /v3/elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert code == 404 and "no endpoint" in json.loads(body)["error"]
    assert_still_serving(server)


def binary_request(json_part: dict, binary: bytes):
    header = json.dumps(json_part).encode()
    return header + binary, f"Inference-Header-Content-Length: {len(header)}\r\n"


def test_raw_size_mismatch(server):
    body, extra = binary_request({"inputs": [{"name": "a", "shape": [1, 4], "datatype": "INT64",
                                              "parameters": {"binary_data_size": 24}}]}, b"\x00" * 24)
    assert_refused(post(server, "/v2/models/int64_ops/infer", body, extra), 400, "24 raw bytes", "needs 32")
    # binary_data_size larger than what follows the JSON
    body, extra = binary_request({"inputs": [{"name": "a", "shape": [1, 4], "datatype": "INT64",
                                              "parameters": {"binary_data_size": 32}}]}, b"\x00" * 16)
    assert_refused(post(server, "/v2/models/int64_ops/infer", body, extra), 400, "only 16 bytes")
    # bytes nobody claims
    body, extra = binary_request(a_input(), b"\x00" * 8)
    assert_refused(post(server, "/v2/models/int64_ops/infer", body, extra), 400, "8 bytes of binary data")
    # a header length past the body
    assert_refused(post(server, "/v2/models/int64_ops/infer", b"{}", "Inference-Header-Content-Length: 99\r\n"),
                   400, "99")
    assert_refused(post(server, "/v2/models/int64_ops/infer", b"{}", "Inference-Header-Content-Length: x1\r\n"),
                   400, "not a byte count")
    # a BYTES element whose length runs past the buffer
    body, extra = binary_request({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES",
                                              "parameters": {"binary_data_size": 8}}]},
                                 struct.pack("<I", 1000) + b"abcd")
    assert_refused(post(server, "/v2/models/bytes_identity/infer", body, extra), 400, "declares 1000 bytes")
    assert_still_serving(server)


def test_truncated_body(server):
    head = (b"POST /v2/models/int64_ops/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    code, _, body = http_exchange(server, head, b'{"inputs": [', half_close=True)
    assert code == 400 and "ended after 12 bytes of the 1000" in json.loads(body)["error"]
    assert_still_serving(server)


def test_no_content_type_needed_and_method_checked(server):
    code, _, body = http_exchange(server, b"POST /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                          b"Connection: close\r\n\r\n")
    assert code == 400 and "GET only" in json.loads(body)["error"]
    assert_still_serving(server)  # its infer request carries no Content-Type


def bytes_request(total: int):
    """An infer request for bytes_identity of exactly `total` bytes (one BYTES element filling it)."""
    json_len_guess = 200
    for _ in range(3):
        payload_len = total - json_len_guess - 4
        header = json.dumps({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES",
                                         "parameters": {"binary_data_size": payload_len + 4}}],
                             "outputs": [{"name": "same", "parameters": {"binary_data": True}}]}).encode()
        if len(header) == json_len_guess:
            break
        json_len_guess = len(header)
    body = header + struct.pack("<I", payload_len) + b"k" * payload_len
    assert len(body) == total
    return body, f"Inference-Header-Content-Length: {len(header)}\r\n", payload_len


def test_body_cap_128_under_passes(server):
    body, extra, payload_len = bytes_request(CAP - 128)
    code, headers, reply = post(server, "/v2/models/bytes_identity/infer", body, extra)
    assert code == 200, reply[:200]
    json_len = int(headers["inference-header-content-length"])
    answer = json.loads(reply[:json_len])
    assert answer["outputs"][0]["parameters"]["binary_data_size"] == payload_len + 4
    assert reply[json_len:json_len + 4] == struct.pack("<I", payload_len)


def test_body_cap_128_over_refused_before_body(server):
    head = (f"POST /v2/models/bytes_identity/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {CAP + 128}\r\n\r\n")
    start = time.monotonic()
    # Only the header and a few body bytes are sent: the refusal cannot have waited for the body.
    code, _, body = http_exchange(server, head.encode(), b"{\"inputs\"", timeout=10)
    assert code == 400
    assert f"{CAP + 128} bytes is larger than the server's limit of {CAP}" in json.loads(body)["error"]
    assert time.monotonic() - start < 5
    assert_still_serving(server)


def test_chunked_body_over_cap(server):
    head = b"POST /v2/models/bytes_identity/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n" % (1 << 20) + b"k" * (1 << 20) + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as s:
        s.sendall(head)
        try:
            for _ in range(65):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        code, _, body = read_reply(s)
    assert code == 400 and "larger than the server's limit" in json.loads(body)["error"]
    assert_still_serving(server)


def test_idle_keepalive_connections_do_not_block(server):
    idle = [socket.create_connection(("127.0.0.1", server.http_port)) for _ in range(64)]
    try:
        time.sleep(0.2)
        start = time.monotonic()
        code, _, _ = http_exchange(server, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert code == 200
        assert time.monotonic() - start < 0.1
    finally:
        for s in idle:
            s.close()


def test_keepalive_serves_several_requests(server):
    request = json.dumps(a_input()).encode()
    head = (f"POST /v2/models/int64_ops/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(request)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as s:
        for _ in range(3):
            s.sendall(head + request)
            code, _, body = read_reply(s)
            assert code == 200 and json.loads(body)["outputs"][0]["data"] == [2, 4, 6, 8]


def test_slow_client_header_timeout(model_repository):
    """A client that starts a request and stalls is cut off at --header-timeout; others are served meanwhile."""
    s = start_server(model_repository, "--header-timeout", "1")
    try:
        with socket.create_connection(("127.0.0.1", s.http_port), timeout=10) as slow:
            slow.sendall(b"GET /v2/health/live HTTP/1.1\r\nHo")
            start = time.monotonic()
            assert_still_serving(s)
            try:
                closed = slow.recv(1) == b""
            except ConnectionResetError:
                closed = True
            assert closed and 0.5 < time.monotonic() - start < 5
    finally:
        stop_server(s)


def test_grpc_message_over_cap_refused(server):
    import grpc
    from tritonclient.grpc import service_pb2, service_pb2_grpc
    channel = grpc.insecure_channel(server.grpc_url, options=[("grpc.max_send_message_length", -1)])
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = service_pb2.ModelInferRequest(model_name="bytes_identity")
    request.inputs.add(name="s", datatype="BYTES", shape=[1])
    request.raw_input_contents.append(struct.pack("<I", CAP) + b"k" * CAP)
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(request)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stub.ServerLive(service_pb2.ServerLiveRequest()).live
    assert_still_serving(server)
