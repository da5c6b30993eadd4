"""Where ONNX Runtime code finds the exception classes: kiln.capi.onnxruntime_pybind11_state."""
from . import onnxruntime_pybind11_state  # noqa: F401
