"""`kiln serve` driven by Triton's own Python clients (tritonclient, HTTP and gRPC): health, metadata, and
inference with binary and JSON data for FP32, INT64, BOOL, BYTES and FP16, results equal to `kiln run`."""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

import grpc

MODELS = ["bool_not", "bytes_identity", "fp16_double", "int64_ops", "squeezenet1_1", "super_resolution"]


@pytest.fixture(scope="module")
def http(server):
    return httpclient.InferenceServerClient(server.http_url)


@pytest.fixture(scope="module")
def grpc_client(server):
    return grpcclient.InferenceServerClient(server.grpc_url)


def clients(http, grpc_client):
    return [(httpclient, http), (grpcclient, grpc_client)]


def infer(module, client, model, feeds, outputs=None, binary=True, request_id=""):
    """One inference through `module` (tritonclient.http or .grpc); returns {output name: array} and the result."""
    inputs = []
    for name, array in feeds.items():
        i = module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        if module is httpclient:
            i.set_data_from_numpy(array, binary_data=binary)
        else:
            i.set_data_from_numpy(array)
        inputs.append(i)
    requested = None
    if outputs is not None:
        requested = [module.InferRequestedOutput(n, binary_data=binary) if module is httpclient
                     else module.InferRequestedOutput(n) for n in outputs]
    result = client.infer(model, inputs, outputs=requested, request_id=request_id)
    names = outputs or [o["name"] if isinstance(o, dict) else o.name for o in
                        (result.get_response()["outputs"] if module is httpclient else result.get_response().outputs)]
    return {n: result.as_numpy(n) for n in names}, result


def test_health(http, grpc_client):
    for _, c in clients(http, grpc_client):
        assert c.is_server_live()
        assert c.is_server_ready()
        for m in MODELS:
            assert c.is_model_ready(m), m
        assert not c.is_model_ready("no_such_model")


def test_server_metadata(http, grpc_client):
    meta = http.get_server_metadata()
    assert meta["name"] == "kiln" and "binary_tensor_data" in meta["extensions"]
    gmeta = grpc_client.get_server_metadata()
    assert gmeta.name == "kiln" and "binary_tensor_data" in gmeta.extensions


def test_model_metadata(http, grpc_client):
    meta = http.get_model_metadata("int64_ops")
    assert meta["name"] == "int64_ops" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "a", "datatype": "INT64", "shape": [-1, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["doubled", "negated"]
    g = grpc_client.get_model_metadata("fp16_double")
    assert [(t.name, t.datatype, list(t.shape)) for t in g.inputs] == [("h", "FP16", [2, 3])]
    assert http.get_model_metadata("fp16_double", model_version="1")["name"] == "fp16_double"
    with pytest.raises(InferenceServerException):
        http.get_model_metadata("no_such_model")
    with pytest.raises(InferenceServerException):
        grpc_client.get_model_metadata("no_such_model")


@pytest.mark.parametrize("model,shape", [("super_resolution", (1, 1, 24, 32)), ("squeezenet1_1", (1, 3, 224, 224))])
def test_fp32_models_equal_kiln_run(http, grpc_client, model_repository, kiln_run, model, shape):
    input_name = http.get_model_metadata(model)["inputs"][0]["name"]
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    expected = kiln_run(model_repository / model / "model.onnx", {input_name: x})
    for module, client in clients(http, grpc_client):
        for binary in ([True, False] if module is httpclient else [True]):
            got, _ = infer(module, client, model, {input_name: x}, binary=binary)
            assert got.keys() == expected.keys()
            for name in expected:
                assert got[name].dtype == np.float32
                np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{module.__name__} {name}")


@pytest.mark.parametrize("binary", [True, False])
def test_int64_outputs_selection_and_id(http, grpc_client, binary):
    a = np.array([[1, -2, 3, 2**40], [5, 6, -7, -(2**50)]], dtype=np.int64)
    for module, client in clients(http, grpc_client):
        got, _ = infer(module, client, "int64_ops", {"a": a}, binary=binary)
        np.testing.assert_array_equal(got["doubled"], a + a)
        np.testing.assert_array_equal(got["negated"], -a)
        got, result = infer(module, client, "int64_ops", {"a": a}, outputs=["negated"], binary=binary,
                            request_id="req-42")
        assert list(got) == ["negated"]
        np.testing.assert_array_equal(got["negated"], -a)
        response = result.get_response()
        assert (response["id"] if module is httpclient else response.id) == "req-42"
        assert len(response["outputs"] if module is httpclient else response.outputs) == 1


@pytest.mark.parametrize("binary", [True, False])
def test_bool_bytes_fp16(http, grpc_client, binary):
    b = np.array([True, False, False, True, True])
    s = np.array(["héllo".encode(), b"", b"kiln serve", b"x" * 300], dtype=np.object_)
    h = np.array([[0.5, -1.25, 3.0], [65504.0 / 2, 1e-3, -0.0]], dtype=np.float16)
    for module, client in clients(http, grpc_client):
        np.testing.assert_array_equal(infer(module, client, "bool_not", {"b": b}, binary=binary)[0]["not_b"], ~b)
        same = infer(module, client, "bytes_identity", {"s": s}, binary=binary)[0]["same"]
        assert [bytes(x) if not isinstance(x, str) else x.encode() for x in same] == list(s)
        if module is httpclient or binary:  # FP16 has no typed gRPC field: tritonclient sends it raw anyway
            h2 = infer(module, client, "fp16_double", {"h": h}, binary=binary)[0]["h2"]
            assert h2.dtype == np.float16
            np.testing.assert_array_equal(h2, h + h)


def test_bytes_not_utf8_binary(http, grpc_client):
    s = np.array([b"\xff\xfe\x00raw", b"\x80"], dtype=np.object_)
    for module, client in clients(http, grpc_client):
        same = infer(module, client, "bytes_identity", {"s": s}, binary=True)[0]["same"]
        assert list(same) == list(s)


def test_grpc_typed_contents(server):
    """A ModelInferRequest with typed contents (no raw_input_contents), answered with raw_output_contents."""
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.grpc_url))
    request = service_pb2.ModelInferRequest(model_name="int64_ops", id="typed")
    tensor = request.inputs.add(name="a", datatype="INT64", shape=[1, 4])
    tensor.contents.int64_contents.extend([4, -3, 2, -1])
    response = stub.ModelInfer(request)
    assert response.id == "typed" and [o.name for o in response.outputs] == ["doubled", "negated"]
    assert len(response.raw_output_contents) == 2
    np.testing.assert_array_equal(np.frombuffer(response.raw_output_contents[0], dtype=np.int64), [8, -6, 4, -2])
    request = service_pb2.ModelInferRequest(model_name="bool_not")
    tensor = request.inputs.add(name="b", datatype="BOOL", shape=[3])
    tensor.contents.bool_contents.extend([True, False, True])
    response = stub.ModelInfer(request)
    np.testing.assert_array_equal(np.frombuffer(response.raw_output_contents[0], dtype=np.bool_), [False, True, False])


def test_grpc_errors_map_to_codes(server):
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.grpc_url))
    request = service_pb2.ModelInferRequest(model_name="no_such_model")
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(request)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "no_such_model" in e.value.details()
    request = service_pb2.ModelInferRequest(model_name="int64_ops")
    request.inputs.add(name="a", datatype="INT64", shape=[1, 4])
    request.raw_input_contents.append(b"\x00" * 31)  # 4 int64 need 32 bytes
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(request)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "31 raw bytes" in e.value.details()


@pytest.mark.parametrize("binary", [True, False])
def test_every_other_numeric_datatype(http, grpc_client, binary):
    """UINT8..UINT64, INT8..INT32 and FP64 at their extremes, through an Identity per type."""
    feeds = {}
    for np_type in (np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32):
        info = np.iinfo(np_type)
        feeds[f"x_{np_to_triton_dtype(np.dtype(np_type))}"] = np.array([info.min, 0, 1, info.max], dtype=np_type)
    feeds["x_FP64"] = np.array([np.pi, -1e-300, 1e300, 0.1], dtype=np.float64)
    for module, client in clients(http, grpc_client):
        got, _ = infer(module, client, "all_types", feeds, binary=binary)
        for name, x in feeds.items():
            y = got["y_" + name[2:]]
            assert y.dtype == x.dtype, (module.__name__, name)
            np.testing.assert_array_equal(y, x, err_msg=f"{module.__name__} {name}")
