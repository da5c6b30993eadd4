"""OrtValue and IOBinding with ONNX Runtime's API, for code written against them on the CPU: an OrtValue is a
NumPy array (kiln runs on the CPU, so there is no device memory to hold), and an IOBinding gathers the feeds and
the outputs wanted and runs them through InferenceSession.run. Feeds are read in place, as run() reads them."""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union, cast

import numpy as np

if TYPE_CHECKING:
    from .session import InferenceSession

__all__ = ["OrtValue", "IOBinding"]

# ONNX's TensorProto.DataType numbers (what OrtValue.element_type() returns and bind_input accepts) and NumPy's types.
_ONNX_TO_NUMPY: Dict[int, Any] = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
                                  7: np.int64, 8: np.object_, 9: np.bool_, 10: np.float16, 11: np.float64,
                                  12: np.uint32, 13: np.uint64}
_NUMPY_TO_ONNX = {np.dtype(t): n for n, t in _ONNX_TO_NUMPY.items()}
_TYPE_NAMES = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
               9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64"}

ElementType = Union[int, type, np.dtype]


def _numpy_dtype(element_type: ElementType) -> np.dtype:
    if isinstance(element_type, (int, np.integer)) and not isinstance(element_type, bool):
        if int(element_type) not in _ONNX_TO_NUMPY:
            raise ValueError(f"element type {element_type} (an ONNX TensorProto type) has no NumPy type kiln feeds")
        return np.dtype(_ONNX_TO_NUMPY[int(element_type)])
    return np.dtype(cast(Any, element_type))


def _check_cpu(device_type: str) -> None:
    if str(device_type).lower() != "cpu":
        raise RuntimeError(f"Can't allocate memory on the device '{device_type}': kiln runs on the CPU only "
                           "(use device_type='cpu')")


def _array_at(buffer_ptr: int, dtype: np.dtype, shape: Sequence[int]) -> np.ndarray:
    """The memory at `buffer_ptr` as an array (a view, not a copy); the caller keeps the memory alive."""
    count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(int(buffer_ptr))
    return np.frombuffer(cast(Any, raw), dtype=dtype, count=count).reshape(tuple(int(d) for d in shape))


class OrtValue:
    """A tensor for IOBinding and run_with_ort_values: a NumPy array on the CPU (shared, not copied, when made
    from one), with ONNX Runtime's methods."""

    def __init__(self, value: Any) -> None:
        self._value = value

    @staticmethod
    def ortvalue_from_numpy(numpy_obj: np.ndarray, device_type: str = "cpu", device_id: int = 0,
                            vendor_id: int = -1) -> "OrtValue":
        """Wraps `numpy_obj` (its memory is shared when it is C-contiguous, as in ONNX Runtime; otherwise copied
        into C order)."""
        _check_cpu(device_type)
        return OrtValue(np.ascontiguousarray(numpy_obj))

    @staticmethod
    def ortvalue_from_shape_and_type(shape: Sequence[int], element_type: ElementType, device_type: str = "cpu",
                                     device_id: int = 0, vendor_id: int = -1, memory_info: Any = None) -> "OrtValue":
        """A new tensor of `shape` and `element_type` (a NumPy type or an ONNX TensorProto type number), zeroed."""
        _check_cpu(device_type)
        return OrtValue(np.zeros(tuple(int(d) for d in shape), dtype=_numpy_dtype(element_type)))

    def numpy(self) -> Any:
        """The tensor as a NumPy array over the same memory (a list of arrays for a sequence)."""
        return self._value

    def _array(self) -> np.ndarray:
        if not isinstance(self._value, np.ndarray):
            raise RuntimeError("this OrtValue holds a sequence, not a tensor")
        return self._value

    def shape(self) -> List[int]:
        return [int(d) for d in self._array().shape]

    def element_type(self) -> int:
        """The ONNX TensorProto type number (1 for float), as ONNX Runtime 1.32 returns it."""
        return _NUMPY_TO_ONNX[self._array().dtype]

    def data_type(self) -> str:
        if isinstance(self._value, list):
            inner = _TYPE_NAMES[_NUMPY_TO_ONNX[self._value[0].dtype]] if self._value else "float"
            return f"seq(tensor({inner}))"
        return f"tensor({_TYPE_NAMES[self.element_type()]})"

    def device_name(self) -> str:
        return "cpu"

    def has_value(self) -> bool:
        return self._value is not None

    def is_tensor(self) -> bool:
        return isinstance(self._value, np.ndarray)

    def is_tensor_sequence(self) -> bool:
        return isinstance(self._value, list)

    def is_sparse_tensor(self) -> bool:
        return False

    def data_ptr(self) -> int:
        return int(self._array().ctypes.data)

    def tensor_size_in_bytes(self) -> int:
        return int(self._array().nbytes)

    def update_inplace(self, np_arr: np.ndarray) -> None:
        """Copies `np_arr` into this tensor's memory (same number of elements)."""
        a = self._array()
        src = np.asarray(np_arr)
        if src.size != a.size:
            raise RuntimeError("The input size of numpy arrays does not match the size of the OrtValue.")
        np.copyto(a.reshape(-1), src.reshape(-1).astype(a.dtype, copy=False))

    def __repr__(self) -> str:
        if isinstance(self._value, np.ndarray):
            return f"OrtValue(type='{self.data_type()}', shape={self.shape()}, device='cpu')"
        return f"OrtValue({self._value!r})"


class IOBinding:
    """ONNX Runtime's IOBinding on the CPU: bind inputs (arrays, raw pointers, OrtValues) and outputs (by name,
    optionally into memory given), then InferenceSession.run_with_iobinding."""

    def __init__(self, session: "InferenceSession") -> None:
        self._session = session
        self._inputs: Dict[str, Any] = {}
        self._outputs: Dict[str, Optional[np.ndarray]] = {}  # name -> the memory to write it into, if given
        self._results: List[OrtValue] = []

    def _check_input(self, name: str) -> None:
        if name not in self._session._feedable:
            raise RuntimeError(f"Failed to find NodeArg with name: {name} in the def list (kiln: '{name}' is not an "
                               f"input of the model; its inputs are {sorted(self._session._feedable)})")

    def bind_cpu_input(self, name: str, arr_on_cpu: Any) -> None:
        """Binds input `name` to an array (read in place at every run: change its values between runs)."""
        self._check_input(name)
        self._inputs[name] = arr_on_cpu

    def bind_input(self, name: str, device_type: str, device_id: int, element_type: ElementType,
                   shape: Sequence[int], buffer_ptr: int) -> None:
        """Binds input `name` to the memory at `buffer_ptr` (the caller keeps it alive while bound)."""
        _check_cpu(device_type)
        self._check_input(name)
        self._inputs[name] = _array_at(buffer_ptr, _numpy_dtype(element_type), shape)

    def bind_ortvalue_input(self, name: str, ortvalue: OrtValue) -> None:
        self._check_input(name)
        self._inputs[name] = ortvalue.numpy()

    def bind_output(self, name: str, device_type: str = "cpu", device_id: int = 0,
                    element_type: Optional[ElementType] = None, shape: Optional[Sequence[int]] = None,
                    buffer_ptr: Optional[int] = None) -> None:
        """Asks for output `name`; with `buffer_ptr`, each run writes it into that memory (which must have the
        output's shape)."""
        _check_cpu(device_type)
        if buffer_ptr is None:
            self._outputs[name] = None
            return
        if element_type is None or shape is None:
            raise ValueError("`element_type` and `shape` are to be provided if pre-allocated memory is provided")
        self._outputs[name] = _array_at(buffer_ptr, _numpy_dtype(element_type), shape)

    def bind_ortvalue_output(self, name: str, ortvalue: OrtValue) -> None:
        """Each run writes output `name` into `ortvalue` (which must have the output's shape and type)."""
        self._outputs[name] = ortvalue._array()

    def clear_binding_inputs(self) -> None:
        self._inputs.clear()

    def clear_binding_outputs(self) -> None:
        self._outputs.clear()
        self._results = []

    def synchronize_inputs(self) -> None:
        pass  # CPU memory: nothing to wait for

    def synchronize_outputs(self) -> None:
        pass

    def get_outputs(self) -> List[OrtValue]:
        """The outputs of the last run, in the order they were bound."""
        return list(self._results)

    def get_outputs_as_ortvaluevector(self) -> List[OrtValue]:
        return self.get_outputs()

    def copy_outputs_to_cpu(self) -> List[Any]:
        """The outputs of the last run as NumPy arrays of their own."""
        return [np.array(v.numpy(), copy=True) if isinstance(v.numpy(), np.ndarray) else v.numpy()
                for v in self._results]

    def _run(self, run_options: Any) -> None:
        if not self._outputs:
            raise RuntimeError("Error in execution: At least one output should be requested.")
        names = list(self._outputs)
        try:
            results = self._session.run(names, self._inputs, run_options)
        except Exception as e:  # noqa: BLE001 - ONNX Runtime reports every failure of this call as RuntimeError
            raise RuntimeError(f"Error in execution: {e}") from e
        values: List[OrtValue] = []
        for name, result in zip(names, results):
            into = self._outputs[name]
            if into is None:
                values.append(OrtValue(result))
                continue
            if into.shape != result.shape or into.dtype != result.dtype:
                raise RuntimeError(f"Error in execution: the memory bound for output '{name}' is {into.dtype} "
                                   f"{list(into.shape)} but the output is {result.dtype} {list(result.shape)}; bind "
                                   "the output without memory (bind_output(name)) when its shape changes")
            np.copyto(into, result)
            values.append(OrtValue(into))
        self._results = values
