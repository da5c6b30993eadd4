# The verification snippet people run after torch.onnx.export, as they write it for ONNX Runtime. The test runs
# this file twice: as it is, and with its first import line changed to `import kiln as onnxruntime`.
import onnxruntime
import sys

import numpy as np
import torch

path = sys.argv[1]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 10)).eval()
x = torch.randn(2, 3, 32, 32)
torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch", 2: "h", 3: "w"}, "logits": {0: "batch"}}, opset_version=17)
with torch.no_grad():
    torch_out = model(x)

session = onnxruntime.InferenceSession(path)
feeds = {session.get_inputs()[0].name: x.numpy()}
out = session.run(None, feeds)
np.testing.assert_allclose(torch_out.numpy(), out[0], rtol=1e-3, atol=1e-5)
print("snippet ok")
