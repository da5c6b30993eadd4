"""kiln's Python quick start: load a model, look at its inputs, run it on random data.

    python quickstart.py model.onnx
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List

import numpy as np
import numpy.typing as npt

import kiln


def random_feeds(session: kiln.InferenceSession, size: int = 1) -> Dict[str, npt.NDArray[Any]]:
    """Random inputs for every input of `session`, with `size` for every dim the model leaves free."""
    rng = np.random.default_rng(0)
    dtypes = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
              "tensor(bool)": np.bool_}
    feeds: Dict[str, npt.NDArray[Any]] = {}
    for arg in session.get_inputs():
        shape: List[int] = [d if isinstance(d, int) else size for d in arg.shape]
        feeds[arg.name] = rng.standard_normal(shape).astype(dtypes.get(arg.type, np.float32))
    return feeds


def main(path: str) -> int:
    options = kiln.SessionOptions()
    options.intra_op_num_threads = 1
    session = kiln.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for arg in session.get_inputs():
        print(f"input  {arg.name}: {arg.type} {arg.shape}")
    outputs = session.run(None, random_feeds(session))
    for arg, value in zip(session.get_outputs(), outputs):
        print(f"output {arg.name}: {value.dtype} {list(value.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
