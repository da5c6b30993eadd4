"""ONNX Runtime's exception classes, raised by kiln with kiln's messages (which name the input, dim and fix).

Every class derives from Exception, as ONNX Runtime's do. kiln raises: InvalidArgument (a feed or option is
wrong), NoSuchFile (the model file cannot be opened), InvalidProtobuf (the bytes are not an ONNX model),
InvalidGraph (the model is inconsistent, or names an operator its opsets lack), NotImplemented (an ONNX operator
kiln has no implementation of), Fail (an unknown custom domain, a limit was hit or the run was terminated) and RuntimeException (a bug in kiln). Missing inputs raise ValueError, as in ONNX Runtime.
"""
from .._kiln import (EngineError, EPFail, Fail, InvalidArgument, InvalidGraph, InvalidProtobuf, ModelLoaded,
                     NoModel, NoSuchFile, NotImplemented, RuntimeException)

__all__ = ["EngineError", "EPFail", "Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "ModelLoaded",
           "NoModel", "NoSuchFile", "NotImplemented", "RuntimeException"]
