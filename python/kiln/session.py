"""InferenceSession with ONNX Runtime's API over kiln's C++ Session (kiln._kiln)."""
from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _kiln
from .iobinding import IOBinding, OrtValue
from .options import RunOptions, SessionOptions

__all__ = ["InferenceSession", "NodeArg", "ModelMetadata", "get_available_providers", "get_all_providers",
           "get_device"]

_CPU = "CPUExecutionProvider"
ProviderSpec = Union[str, Tuple[str, Dict[str, Any]]]


def get_available_providers() -> List[str]:
    """kiln runs on the CPU only."""
    return [_CPU]


def get_all_providers() -> List[str]:
    return [_CPU]


def get_device() -> str:
    return "CPU"


class NodeArg:
    """A graph input or output: ``name``, ``type`` (``'tensor(float)'``...) and ``shape`` (ints for sizes,
    strings for named dims, None for unknown dims), as ONNX Runtime reports them."""

    __slots__ = ("name", "type", "shape", "_numpy_dtype")

    def __init__(self, name: str, type: str, shape: List[Union[int, str, None]],
                 numpy_dtype: Optional[str] = None) -> None:
        self.name = name
        self.type = type
        self.shape = shape
        self._numpy_dtype = numpy_dtype

    def __str__(self) -> str:
        return f"NodeArg(name='{self.name}', type='{self.type}', shape={self.shape})"

    __repr__ = __str__


class ModelMetadata:
    """get_modelmeta(): what the model file says about itself."""

    __slots__ = ("producer_name", "graph_name", "domain", "description", "graph_description", "version",
                 "custom_metadata_map")

    def __init__(self, info: Dict[str, Any]) -> None:
        self.producer_name: str = info["producer_name"]
        self.graph_name: str = info["graph_name"]
        self.domain: str = info["domain"]
        self.description: str = info["description"]
        self.graph_description: str = info["graph_description"]
        # ONNX Runtime reports a model_version the file does not set as INT64_MAX (a 0 that is set stays 0).
        self.version: int = info["version"] if info["has_version"] else 2**63 - 1
        self.custom_metadata_map: Dict[str, str] = dict(info["custom_metadata_map"])


def _normalize_providers(providers: Optional[Sequence[ProviderSpec]],
                         provider_options: Optional[Sequence[Dict[str, Any]]]) -> Tuple[List[str], List[Dict[str, Any]]]:
    """The providers kiln will report: the CPU provider, with any options given for it. An unknown or
    unavailable provider warns (as ONNX Runtime does) and the session runs on the CPU."""
    if providers is None:
        return [_CPU], [{}]
    if provider_options is not None and len(provider_options) != len(providers):
        raise ValueError("'providers' and 'provider_options' should be the same length if both are given.")
    names: List[str] = []
    options: List[Dict[str, Any]] = []
    for i, p in enumerate(providers):
        if isinstance(p, tuple):
            if len(p) != 2 or not isinstance(p[0], str) or not isinstance(p[1], dict):
                raise ValueError("Only string or (string, dict) tuples are accepted as providers.")
            name, opts = p[0], dict(p[1])
        elif isinstance(p, str):
            name, opts = p, dict(provider_options[i]) if provider_options is not None else {}
        else:
            raise ValueError("Only string or (string, dict) tuples are accepted as providers.")
        if name not in get_available_providers():
            warnings.warn(f"Specified provider '{name}' is not in available provider names. "
                          f"Available providers: '{', '.join(get_available_providers())}'. kiln runs on the CPU.",
                          stacklevel=3)
            continue
        names.append(name)
        options.append({str(k): str(v) for k, v in opts.items()})
    if not names:
        return [_CPU], [{}]
    return names, options


class InferenceSession:
    """Loads an ONNX model (a path or the serialized bytes) once and runs it many times, with ONNX Runtime's
    API. Thread-safe: several threads may call run() at once (each releases the GIL while kiln computes)."""

    def __init__(self, path_or_bytes: Union[str, bytes, "os.PathLike[str]"],
                 sess_options: Optional[SessionOptions] = None,
                 providers: Optional[Sequence[ProviderSpec]] = None,
                 provider_options: Optional[Sequence[Dict[str, Any]]] = None, **kwargs: Any) -> None:
        if isinstance(path_or_bytes, (str, os.PathLike)):
            self._model_path: Optional[str] = os.fspath(path_or_bytes)
            self._model_bytes: Optional[bytes] = None
        elif isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model_path = None
            self._model_bytes = bytes(path_or_bytes)
        else:
            raise TypeError(f"Unable to load from type '{type(path_or_bytes)}'")
        self._sess_options = sess_options if sess_options is not None else SessionOptions()
        self._providers, self._provider_options = _normalize_providers(providers, provider_options)
        native = self._sess_options._native()
        disabled = kwargs.get("disabled_optimizers")
        if disabled:
            native.disabled_passes = list(native.disabled_passes) + [str(d) for d in disabled]
        if self._model_path is not None:
            self._sess = _kiln.Session.from_file(self._model_path, native)
        else:
            assert self._model_bytes is not None
            self._sess = _kiln.Session.from_bytes(self._model_bytes, native)
        self._inputs_meta = [NodeArg(*d) for d in self._sess.inputs()]
        # Graph inputs with an initializer. As in ONNX Runtime, a model of IR version 4 or later may have them fed
        # (the initializer is the default); below 4, every initializer had to be listed as an input, so a listed
        # one is a constant and feeding it is refused.
        overridable = [NodeArg(*d) for d in self._sess.overridable_inputs()]
        self._ir_version = int(self._sess.model_info()["ir_version"])
        self._overridable_meta = overridable if self._ir_version >= 4 else []
        self._constant_inputs = {a.name for a in overridable} if self._ir_version < 4 else set()
        self._feedable = {a.name for a in self._inputs_meta} | {a.name for a in self._overridable_meta}
        # As ONNX Runtime reports outputs: the declaration completed by shape inference.
        self._outputs_meta = [NodeArg(*d) for d in self._sess.outputs_inferred()]
        self._profiling_start_ns = time.time_ns()
        self._profile_events: List[Dict[str, Any]] = []

    # --- what the model declares -------------------------------------------------------------------------
    def get_inputs(self) -> List[NodeArg]:
        return list(self._inputs_meta)

    def get_outputs(self) -> List[NodeArg]:
        return list(self._outputs_meta)

    def get_overridable_initializers(self) -> List[NodeArg]:
        """Initializers a feed may replace (graph inputs with an initializer, IR version 4 or later); they may
        also be left out of the feed."""
        return list(self._overridable_meta)

    def get_modelmeta(self) -> ModelMetadata:
        return ModelMetadata(self._sess.model_info())

    def get_session_options(self) -> SessionOptions:
        return self._sess_options

    def get_providers(self) -> List[str]:
        return list(self._providers)

    def get_provider_options(self) -> Dict[str, Dict[str, Any]]:
        return {name: dict(opts) for name, opts in zip(self._providers, self._provider_options)}

    def set_providers(self, providers: Optional[Sequence[ProviderSpec]] = None,
                      provider_options: Optional[Sequence[Dict[str, Any]]] = None) -> None:
        self._providers, self._provider_options = _normalize_providers(providers, provider_options)

    def disable_fallback(self) -> None:
        pass

    def enable_fallback(self) -> None:
        pass

    # --- running -----------------------------------------------------------------------------------------
    def run(self, output_names: Optional[Sequence[str]], input_feed: Dict[str, Any],
            run_options: Optional[RunOptions] = None) -> List[Any]:
        """Runs the model on ``input_feed`` ({input name: numpy array}) and returns the outputs named in
        ``output_names`` (None or [] for all, in the model's order) as numpy arrays. Arrays of the declared
        dtype in C order are read in place; no array is ever converted to another dtype."""
        feeds: List[Tuple[str, Any]] = []
        declared = {a.name: a for a in self._inputs_meta + self._overridable_meta}
        for name, value in input_feed.items():
            if name in self._constant_inputs:
                raise _kiln.InvalidArgument(
                    f"Invalid input name: {name}. '{name}' is an initializer; the model's IR version "
                    f"{self._ir_version} (below 4) lists initializers as graph inputs, and, as in ONNX Runtime, they "
                    f"are constants that cannot be fed. The inputs are {[a.name for a in self._inputs_meta]}")
            arg = declared.get(name)
            is_sequence = arg is not None and "seq(" in arg.type
            if isinstance(value, OrtValue):
                value = value.numpy()  # ONNX Runtime's run() takes OrtValues among the arrays
            if isinstance(value, np.ndarray) or (is_sequence and isinstance(value, (list, tuple))):
                pass
            elif any(hasattr(value, a) for a in ("__array__", "__array_interface__", "__dlpack__")):
                value = np.asarray(value)  # an array of another library (a CPU torch tensor): its own dtype
            else:
                # A Python scalar or nested list, as ONNX Runtime takes it: made an array of the declared dtype.
                # Arrays are never converted: their dtype is checked against the model's.
                value = np.asarray(value, dtype=arg._numpy_dtype if arg is not None and arg._numpy_dtype else None)
            feeds.append((name, value))
        missing = [a.name for a in self._inputs_meta
                   if a.name not in input_feed and not a.type.startswith("optional")]
        cancel = run_options._cancel if run_options is not None else None
        profile = bool(self._sess_options.enable_profiling)
        names = list(output_names) if output_names else []
        start_ns = time.time_ns()
        try:
            outputs, steps = self._sess.run(feeds, names, cancel, profile)
        except _kiln.InvalidArgument as e:
            if missing:  # ONNX Runtime checks for missing inputs first, with a ValueError
                raise ValueError(f"Required inputs ({missing}) are missing from input feed "
                                 f"({list(input_feed)}): {e}") from None
            raise
        if profile and steps is not None:
            self._record_profile(start_ns, steps)
        return list(outputs)

    def io_binding(self) -> IOBinding:
        """An IOBinding for this session (inputs and outputs bound once, run with run_with_iobinding)."""
        return IOBinding(self)

    def run_with_iobinding(self, iobinding: IOBinding, run_options: Optional[RunOptions] = None) -> None:
        """Runs with the inputs and outputs bound in `iobinding`; the results are its get_outputs()."""
        iobinding._run(run_options)

    def run_with_ort_values(self, output_names: Optional[Sequence[str]], input_dict_ort_values: Dict[str, OrtValue],
                            run_options: Optional[RunOptions] = None) -> List[OrtValue]:
        """run() with OrtValues in and out."""
        feeds = {name: v.numpy() if isinstance(v, OrtValue) else v for name, v in input_dict_ort_values.items()}
        return [OrtValue(r) for r in self.run(output_names, feeds, run_options)]

    # --- profiling ---------------------------------------------------------------------------------------
    def _record_profile(self, start_ns: int, steps: List[Tuple[str, str, str, int, float]]) -> None:
        ts = (start_ns - self._profiling_start_ns) / 1000.0
        total = 0.0
        for node, op_type, kernel, depth, ms in steps:
            dur = ms * 1000.0
            self._profile_events.append({"cat": "Node", "pid": os.getpid(), "tid": 0, "dur": round(dur, 3),
                                         "ts": round(ts, 3), "ph": "X", "name": f"{node}_kernel_time",
                                         "args": {"op_name": op_type, "provider": _CPU, "kernel": kernel,
                                                  "depth": depth}})
            ts += dur if depth == 0 else 0.0
            total += dur if depth == 0 else 0.0
        self._profile_events.append({"cat": "Session", "pid": os.getpid(), "tid": 0, "dur": round(total, 3),
                                     "ts": round((start_ns - self._profiling_start_ns) / 1000.0, 3), "ph": "X",
                                     "name": "model_run", "args": {}})

    def end_profiling(self) -> str:
        """Writes the profile of the runs so far (Chrome trace JSON, as ONNX Runtime does) and returns its file
        name; "" when profiling is off."""
        if not self._sess_options.enable_profiling:
            return ""
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        path = f"{self._sess_options.profile_file_prefix}{stamp}.json"
        with open(path, "w") as f:
            json.dump(self._profile_events, f)
        self._profile_events = []
        return path

    def get_profiling_start_time_ns(self) -> int:
        return self._profiling_start_ns
