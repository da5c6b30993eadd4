#!/usr/bin/env python3
"""KServe's own Python model server (PyPI `kserve`) wrapping ONNX Runtime: what `make bench-serve` runs beside
`kiln serve` (scripts/bench/serve_bench.py starts it; it prints `kserve-ort: ready` once the model is loaded).

Written the way KServe's own runtimes (sklearnserver, xgbserver) are: a `kserve.Model` whose synchronous
`predict` runs the model, served by `kserve.ModelServer` (uvicorn for REST, grpc.aio for gRPC, one process).
Outputs are answered in the form the request asked for (binary on gRPC and when a REST request says so, else
JSON `data`).

    .venv/bin/python scripts/bench/kserve_ort_server.py MODEL.onnx --http-port P --grpc-port Q --threads 2
"""
import argparse
import logging
import pathlib

import kserve
import kserve.protocol.grpc.server as kserve_grpc
import kserve.protocol.rest.server as kserve_rest
import onnxruntime as ort
import uvicorn
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

# ONNX Runtime's output element types as the protocol names them (the bench models are floating point).
DATATYPES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64",
             "tensor(int32)": "INT32", "tensor(bool)": "BOOL", "tensor(float16)": "FP16"}


def loopback_only() -> None:
    """KServe listens on every interface ("0.0.0.0" for REST, "[::]" for gRPC, written into its code); the bench
    is loopback only, so this process's uvicorn.Config and grpc.aio.server put both listeners on 127.0.0.1,
    changing nothing else."""
    class LoopbackConfig(uvicorn.Config):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "host": "127.0.0.1"})

    make_server = kserve_grpc.aio.server

    def loopback_server(*args, **kwargs):
        server = make_server(*args, **kwargs)
        add_port = server.add_insecure_port
        server.add_insecure_port = lambda address: add_port(address.replace("[::]", "127.0.0.1"))
        return server

    kserve_rest.uvicorn.Config = LoopbackConfig
    kserve_grpc.aio.server = loopback_server


class OrtModel(kserve.Model):
    def __init__(self, name: str, path: str, threads: int):
        super().__init__(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.outputs = [(o.name, DATATYPES[o.type]) for o in self.session.get_outputs()]
        self.ready = True

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        results = self.session.run(None, {i.name: i.as_numpy() for i in payload.inputs})
        # Binary where the request allows it: always on gRPC (raw_output_contents), on REST when the request
        # asks, per output (`binary_data`, what tritonclient sends) or for all (`binary_data_output`). JSON
        # otherwise, where KServe converts each element in Python.
        asked = {o.name: o.binary_data for o in payload.request_outputs or []}
        outputs = []
        for (name, datatype), value in zip(self.outputs, results):
            binary = payload.from_grpc or bool(asked.get(name) or payload.use_binary_outputs)
            out = InferOutput(name=name, shape=list(value.shape), datatype=datatype)
            out.set_data_from_numpy(value, binary_data=binary)
            outputs.append(out)
        return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs,
                             use_binary_outputs=payload.use_binary_outputs,
                             requested_outputs=payload.request_outputs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    loopback_only()
    model = OrtModel(pathlib.Path(args.model).stem, args.model, args.threads)
    # Per-request latency logging off: the bench measures serving, not logging (kiln serve logs no request
    # either unless asked).
    logging.getLogger().setLevel(logging.WARNING)
    print("kserve-ort: ready", flush=True)
    kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1,
                       enable_latency_logging=False).start([model])


if __name__ == "__main__":
    main()
