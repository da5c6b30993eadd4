# Patterns found in code written for ONNX Runtime. The test runs this file as it is and with its first import
# line changed to `import kiln as onnxruntime`.
import onnxruntime as ort
import sys
import threading

import numpy as np

path = sys.argv[1]  # a model with input "input" [batch, 3, h, w] and output "logits" [batch, 10]


# A wrapper class, as libraries write them.
class Model(ort.InferenceSession):
    def __init__(self, model_path, threads=1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        providers = [p for p in providers if p in ort.get_available_providers()]
        super().__init__(model_path, sess_options=options, providers=providers)
        self.input_name = self.get_inputs()[0].name
        self.output_names = [o.name for o in self.get_outputs()]

    def __call__(self, x):
        return self.run(self.output_names, {self.input_name: x})[0]


model = Model(path)
assert model.get_providers()[0] == "CPUExecutionProvider"
inp = model.get_inputs()[0]
assert inp.type == "tensor(float)" and inp.shape[1] == 3 and isinstance(inp.shape[0], str), inp
dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64}[inp.type]
shape = [d if isinstance(d, int) else 1 for d in inp.shape]
shape[2:] = [16, 16]

# A run(None, ...) loop over batches.
rng = np.random.default_rng(0)
results = []
for batch in (1, 2, 4):
    x = rng.standard_normal([batch] + shape[1:]).astype(dtype)
    out = model.run(None, {inp.name: x})
    assert isinstance(out, list) and out[0].shape == (batch, 10), out[0].shape
    results.append(out[0])

# Threads sharing one session.
errors = []


def worker(i):
    try:
        x = np.full([2] + shape[1:], i, dtype)
        y = model(x)
        assert y.shape == (2, 10)
    except Exception as e:  # noqa: BLE001
        errors.append(e)


threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors

# The metadata and the run options.
meta = model.get_modelmeta()
assert meta.producer_name == "pytorch", meta.producer_name
ro = ort.RunOptions()
ro.log_severity_level = 3
model.run(None, {inp.name: np.zeros([1] + shape[1:], dtype)}, ro)

# IOBinding on the CPU: input bound once, outputs fetched after each run, one written into preallocated memory.
x = rng.standard_normal([2] + shape[1:]).astype(dtype)
binding = model.io_binding()
binding.bind_cpu_input(inp.name, x)
binding.bind_output(model.output_names[0])
model.run_with_iobinding(binding)
logits = binding.copy_outputs_to_cpu()[0]
np.testing.assert_allclose(logits, model(x), rtol=1e-5, atol=1e-6)
value = ort.OrtValue.ortvalue_from_numpy(x)
assert value.shape() == list(x.shape) and value.data_type() == "tensor(float)" and value.device_name() == "cpu"
into = ort.OrtValue.ortvalue_from_shape_and_type([2, 10], np.float32)
binding = model.io_binding()
binding.bind_ortvalue_input(inp.name, value)
binding.bind_ortvalue_output(model.output_names[0], into)
model.run_with_iobinding(binding)
np.testing.assert_allclose(into.numpy(), logits, rtol=1e-5, atol=1e-6)
out = model.run_with_ort_values(None, {inp.name: value})
np.testing.assert_allclose(out[0].numpy(), logits, rtol=1e-5, atol=1e-6)
assert [a.name for a in model.get_overridable_initializers()] == []  # torch exports weights as initializers only

# Errors caught by the classes' names.
try:
    model.run(None, {inp.name: np.zeros([1] + shape[1:], np.float64)})
    raise SystemExit("float64 was accepted")
except ort.capi.onnxruntime_pybind11_state.InvalidArgument as e:
    assert "float" in str(e) or "double" in str(e)
print("patterns ok")
