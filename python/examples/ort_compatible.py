"""Code written for ONNX Runtime, run on kiln by its import line alone."""
from __future__ import annotations

import sys
from typing import List

import numpy as np
import numpy.typing as npt

import kiln as onnxruntime


class Classifier(onnxruntime.InferenceSession):
    """A wrapper class of the kind libraries write around InferenceSession."""

    def __init__(self, path: str) -> None:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in onnxruntime.get_available_providers()]
        super().__init__(path, sess_options=options, providers=providers)
        self.input_name: str = self.get_inputs()[0].name

    def top1(self, batch: npt.NDArray[np.float32]) -> List[int]:
        logits = self.run(None, {self.input_name: batch})[0]
        return [int(i) for i in np.argmax(logits, axis=1)]


def main(path: str) -> int:
    model = Classifier(path)
    batch = np.zeros((2, 3, 32, 32), np.float32)
    try:
        print(model.top1(batch))
    except onnxruntime.InvalidArgument as e:
        print(f"refused: {e}")
        return 1
    # IOBinding, as CPU code uses it: inputs bound once (read in place), outputs fetched after the run.
    binding = model.io_binding()
    binding.bind_ortvalue_input(model.input_name, onnxruntime.OrtValue.ortvalue_from_numpy(batch))
    binding.bind_output(model.get_outputs()[0].name)
    model.run_with_iobinding(binding)
    logits: npt.NDArray[np.float32] = binding.copy_outputs_to_cpu()[0]
    print(logits.shape, binding.get_outputs()[0].data_type())
    meta = model.get_modelmeta()
    print(meta.producer_name, meta.version, meta.custom_metadata_map)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
