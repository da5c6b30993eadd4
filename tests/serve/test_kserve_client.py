"""`kiln serve` driven by KServe's own v2 clients (PyPI kserve: InferenceRESTClient, InferenceGRPCClient), a
second client nobody here wrote. It adds what tritonclient does not exercise: REST requests that carry a
Content-Type (JSON and octet-stream), and gRPC inputs as typed contents (tritonclient always sends
raw_input_contents). FP32 answers equal `kiln run`'s bit for bit.

Its own process (ctest entry serve.kserve_client): kserve's generated gRPC module and tritonclient's both
register `inference.*` in protobuf's default descriptor pool, so the two cannot be imported together."""
import asyncio

import numpy as np
import pytest
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

from conftest import start_server, stop_server, sub_repository


@pytest.fixture(scope="module")
def server(model_repository):
    s = start_server(sub_repository(model_repository, "repository_kserve_client",
                                    {m: (m, None) for m in ("int64_ops", "super_resolution")}))
    yield s
    stop_server(s)


def test_kserve_sdk_clients(server, model_repository, kiln_run):
    a = np.arange(-4, 4, dtype=np.int64).reshape(2, 4)
    x = np.random.default_rng(5).standard_normal((1, 1, 16, 16)).astype(np.float32)
    expected = kiln_run(model_repository / "super_resolution" / "model.onnx", {"input": x})["output"]

    async def drive():
        base = f"http://{server.http_url}"
        rest = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
        assert await rest.is_server_ready(base) and await rest.is_model_ready(base, "int64_ops")
        for binary in (False, True):
            i = InferInput("a", [2, 4], "INT64")
            i.set_data_from_numpy(a, binary_data=binary)
            res = await rest.infer(base, InferRequest("int64_ops", [i], request_id=f"rest-{binary}"),
                                   model_name="int64_ops")
            assert res.id == f"rest-{binary}"
            got = {o.name: o.as_numpy() for o in res.outputs}
            assert np.array_equal(got["doubled"], a * 2) and np.array_equal(got["negated"], -a)
            i = InferInput("input", list(x.shape), "FP32")
            i.set_data_from_numpy(x, binary_data=binary)
            res = await rest.infer(base, InferRequest("super_resolution", [i], request_id="sr"),
                                   model_name="super_resolution")
            assert np.array_equal(res.outputs[0].as_numpy(), expected), f"binary={binary}"
        await rest.close()

        grpc = InferenceGRPCClient(server.grpc_url)
        assert await grpc.is_server_ready() and await grpc.is_model_ready("super_resolution")
        typed = [InferInput("a", [2, 4], "INT64", data=a.flatten().tolist())]
        res = await grpc.infer(InferRequest("int64_ops", typed, request_id="grpc-typed"))
        assert res.id == "grpc-typed"
        got = {o.name: o.as_numpy() for o in res.outputs}
        assert np.array_equal(got["doubled"], a * 2) and np.array_equal(got["negated"], -a)
        typed = [InferInput("input", list(x.shape), "FP32", data=x.flatten().tolist())]
        res = await grpc.infer(InferRequest("super_resolution", typed, request_id="sr"))
        assert np.array_equal(res.outputs[0].as_numpy(), expected)
        await grpc.close()

    asyncio.run(drive())
