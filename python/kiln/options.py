"""SessionOptions, RunOptions and the enums of ONNX Runtime's API, as kiln honours them."""
from __future__ import annotations

import enum
from typing import Dict

from . import _kiln

__all__ = ["GraphOptimizationLevel", "ExecutionMode", "ExecutionOrder", "SessionOptions", "RunOptions"]


class GraphOptimizationLevel(enum.IntEnum):
    """ONNX Runtime's levels; kiln maps DISABLE_ALL to none, BASIC to its basic passes, the rest to all."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """Accepted for compatibility: kiln runs a graph's steps in order and parallelizes inside kernels."""

    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class ExecutionOrder(enum.IntEnum):
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


class SessionOptions:
    """ONNX Runtime's SessionOptions. What kiln uses: intra_op_num_threads (0 = every CPU this process may use),
    graph_optimization_level, enable_profiling and profile_file_prefix, log_severity_level (3 and above silence
    kiln's warnings), and the config entries ``kiln.disabled_passes`` (comma-separated pass names) and
    ``kiln.strict_symbols`` ("1": refuse a named dim fed two sizes). The other attributes are accepted and kept
    so that code written for ONNX Runtime runs; they do not change what kiln computes."""

    __slots__ = ("intra_op_num_threads", "inter_op_num_threads", "graph_optimization_level", "execution_mode",
                 "execution_order", "enable_profiling", "profile_file_prefix", "log_severity_level",
                 "log_verbosity_level", "logid", "optimized_model_filepath", "enable_cpu_mem_arena",
                 "enable_mem_pattern", "enable_mem_reuse", "use_deterministic_compute", "use_per_session_threads",
                 "_config", "_free_dims")

    def __init__(self) -> None:
        self.intra_op_num_threads: int = 0
        self.inter_op_num_threads: int = 0
        self.graph_optimization_level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode: ExecutionMode = ExecutionMode.ORT_SEQUENTIAL
        self.execution_order: ExecutionOrder = ExecutionOrder.DEFAULT
        self.enable_profiling: bool = False
        self.profile_file_prefix: str = "onnxruntime_profile_"
        self.log_severity_level: int = -1
        self.log_verbosity_level: int = 0
        self.logid: str = ""
        self.optimized_model_filepath: str = ""
        self.enable_cpu_mem_arena: bool = True
        self.enable_mem_pattern: bool = True
        self.enable_mem_reuse: bool = True
        self.use_deterministic_compute: bool = False
        self.use_per_session_threads: bool = True
        self._config: Dict[str, str] = {}
        self._free_dims: Dict[str, int] = {}

    def add_session_config_entry(self, key: str, value: str) -> None:
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key: str) -> str:
        if key not in self._config:
            raise RuntimeError(f"SessionOptions does not have configuration with key: {key}")
        return self._config[key]

    def add_free_dimension_override_by_name(self, dim_name: str, dim_value: int) -> None:
        """Kept, not applied: kiln plans for the sizes fed, whatever the names."""
        self._free_dims[dim_name] = int(dim_value)

    def register_custom_ops_library(self, library_path: str) -> None:
        raise _kiln.NotImplemented(f"kiln cannot load ONNX Runtime custom-op libraries ({library_path})")

    def _native(self) -> _kiln.NativeSessionOptions:
        o = _kiln.NativeSessionOptions()
        threads = int(self.intra_op_num_threads)
        if threads < 0:
            raise _kiln.InvalidArgument(f"intra_op_num_threads is {threads}; use 0 (every CPU) or a count")
        o.intra_op_threads = threads
        level = int(self.graph_optimization_level)
        o.graph_optimization_level = 0 if level <= 0 else 1 if level == 1 else 2
        passes = self._config.get("kiln.disabled_passes", "")
        o.disabled_passes = [p.strip() for p in passes.split(",") if p.strip()]
        o.strict_symbols = self._config.get("kiln.strict_symbols", "0") == "1"
        if int(self.log_severity_level) >= 3:
            o.silence_warnings()
        return o


class RunOptions:
    """ONNX Runtime's RunOptions. ``terminate = True``, from any thread, stops a run between steps with
    ``Fail``; the other attributes are kept for compatibility."""

    __slots__ = ("_cancel", "logid", "log_severity_level", "log_verbosity_level", "only_execute_path_to_fetches",
                 "_config")

    def __init__(self) -> None:
        self._cancel = _kiln.CancelFlag()
        self.logid: str = ""
        self.log_severity_level: int = -1
        self.log_verbosity_level: int = 0
        self.only_execute_path_to_fetches: bool = False
        self._config: Dict[str, str] = {}

    @property
    def terminate(self) -> bool:
        return self._cancel.get()

    @terminate.setter
    def terminate(self, value: bool) -> None:
        self._cancel.set(bool(value))

    def add_run_config_entry(self, key: str, value: str) -> None:
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key: str) -> str:
        if key not in self._config:
            raise RuntimeError(f"RunOptions does not have configuration with key: {key}")
        return self._config[key]
