"""Inputs for the tools: read from files (--input NAME=FILE) or generated from a seed, sized by --shape."""
from __future__ import annotations

import pathlib
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

NUMPY_OF_TYPE = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
                 "tensor(int8)": np.int8, "tensor(int16)": np.int16, "tensor(int32)": np.int32,
                 "tensor(int64)": np.int64, "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16,
                 "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_}


def parse_pairs(items: Sequence[str], what: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise ValueError(f"{what} '{item}' is not NAME=VALUE")
        out[name] = value
    return out


def parse_dims(text: str) -> List[int]:
    try:
        return [int(d) for d in text.lower().replace(",", "x").split("x")]
    except ValueError:
        raise ValueError(f"'{text}' is not dims like 1x3x224x224") from None


def read_array(path: Union[str, pathlib.Path]) -> np.ndarray:
    path = pathlib.Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".pb":
        import onnx
        from onnx import numpy_helper
        return numpy_helper.to_array(onnx.load_tensor(str(path)))
    raise ValueError(f"{path}: read .npy or TensorProto .pb files")


def make_feeds(inputs, files: Dict[str, str], shapes: Dict[str, str], seed: int,
               int_high: int = 10, npz: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Feeds for `inputs` (NodeArgs): the files given (and the arrays of `npz` named after inputs), random data
    for the rest (floats N(0,1), integers in [0, int_high), bools 0/1), every free dim 1 unless --shape sizes
    the input."""
    known = {a.name for a in inputs}
    saved: Dict[str, np.ndarray] = {}
    if npz:
        with np.load(npz, allow_pickle=False) as z:
            saved = {k: z[k] for k in z.files if k in known}
    for name in list(files) + list(shapes):
        if name not in known:
            raise ValueError(f"'{name}' is not an input of the model; its inputs are {sorted(known)}")
    rng = np.random.default_rng(seed)
    feeds: Dict[str, np.ndarray] = {}
    for arg in inputs:
        if arg.name in files:
            feeds[arg.name] = read_array(files[arg.name])
            continue
        if arg.name in saved:
            feeds[arg.name] = saved[arg.name]
            continue
        dtype = NUMPY_OF_TYPE.get(arg.type)
        if dtype is None:
            raise ValueError(f"input '{arg.name}' is a {arg.type}; give it with --input {arg.name}=FILE")
        if arg.name in shapes:
            shape = parse_dims(shapes[arg.name])
            if len(shape) != len(arg.shape):
                raise ValueError(f"--shape {arg.name} has {len(shape)} dims; the input has {len(arg.shape)}")
        else:
            shape = [d if isinstance(d, int) else 1 for d in arg.shape]
        if np.issubdtype(dtype, np.floating):
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype is np.bool_:
            feeds[arg.name] = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            feeds[arg.name] = rng.integers(0, int_high, size=shape).astype(dtype)
    return feeds


def describe_feed(name: str, value: np.ndarray, source: Optional[str]) -> str:
    return f"{name}={source or 'random'} [{','.join(map(str, value.shape))}] {value.dtype}"
