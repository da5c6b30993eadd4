"""kiln: an ONNX inference engine with ONNX Runtime's Python API.

    import kiln as onnxruntime
    session = onnxruntime.InferenceSession("model.onnx")
    outputs = session.run(None, {session.get_inputs()[0].name: x})
"""
from . import capi
from ._kiln import (EngineError, EPFail, Fail, InvalidArgument, InvalidGraph, InvalidProtobuf, ModelLoaded,
                    NoModel, NoSuchFile, NotImplemented, RuntimeException)
from .options import ExecutionMode, ExecutionOrder, GraphOptimizationLevel, RunOptions, SessionOptions
from .iobinding import IOBinding, OrtValue
from .export import ExportError, ExportReport, ExportWarning, export
from .session import (InferenceSession, ModelMetadata, NodeArg, get_all_providers, get_available_providers,
                      get_device)

__version__ = "0.1.0"
version = __version__

__all__ = ["InferenceSession", "SessionOptions", "RunOptions", "NodeArg", "ModelMetadata",
           "GraphOptimizationLevel", "ExecutionMode", "ExecutionOrder", "get_available_providers",
           "get_all_providers", "get_device", "capi", "Fail", "InvalidArgument", "NoSuchFile", "NoModel",
           "EngineError", "RuntimeException", "InvalidProtobuf", "ModelLoaded", "NotImplemented", "InvalidGraph",
           "EPFail", "IOBinding", "OrtValue", "export", "ExportError", "ExportWarning", "ExportReport"]
