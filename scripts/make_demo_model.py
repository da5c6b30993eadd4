#!/usr/bin/env python3
"""Exports the demo model: the SuperResolutionNet of PyTorch's "super resolution" ONNX tutorial.

The net maps a 1-channel image (the Y channel of YCbCr) to one 3 times larger: four convolutions with ReLU,
then a PixelShuffle that turns 9 channels into a 3x3 block of pixels. Weights are the tutorial's orthogonal
initialization with a fixed seed (no training), so the file is the same on every run and small (~240 KB).

    python scripts/make_demo_model.py [OUTPUT]        # default: <repo>/models/super_resolution.onnx

The model suite (tests/models) imports `export_super_resolution` from here, so the demo file and the tested
file come from one definition.
"""
import argparse
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.init as init

REPO = pathlib.Path(__file__).resolve().parent.parent
UPSCALE_FACTOR = 3
SEED = 0
MAX_BYTES = 1 << 20  # the demo file is committed; keep it under 1 MB


class SuperResolutionNet(nn.Module):
    """Conv 1->64 5x5, 64->64 3x3, 64->32 3x3, 32->r*r 3x3 (ReLU after the first three), PixelShuffle(r)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, kernel_size=5, stride=1, padding=2)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=1, padding=1)
        self.conv3 = nn.Conv2d(64, 32, kernel_size=3, stride=1, padding=1)
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, kernel_size=3, stride=1, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        # As in the tutorial: orthogonal weights, scaled by the ReLU gain where a ReLU follows.
        gain = init.calculate_gain("relu")
        init.orthogonal_(self.conv1.weight, gain)
        init.orthogonal_(self.conv2.weight, gain)
        init.orthogonal_(self.conv3.weight, gain)
        init.orthogonal_(self.conv4.weight)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))


def export_super_resolution(path, opset: int = 17) -> None:
    """Writes the seeded SuperResolutionNet to `path` with batch, height and width left variable."""
    torch.manual_seed(SEED)
    model = SuperResolutionNet(UPSCALE_FACTOR).eval()
    example = torch.randn(1, 1, 224, 224)
    # The output is 3x the input's height and width, so its axes get their own names: reusing "height" and
    # "width" would declare the output the same size as the input, which a shape check rightly rejects.
    dynamic_axes = {"input": {0: "batch", 2: "height", 3: "width"},
                    "output": {0: "batch", 2: "out_height", 3: "out_width"}}
    with torch.no_grad():
        torch.onnx.export(model, example, str(path), export_params=True, opset_version=opset,
                          do_constant_folding=True, input_names=["input"], output_names=["output"],
                          dynamic_axes=dynamic_axes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(REPO / "models" / "super_resolution.onnx"))
    args = parser.parse_args()
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_super_resolution(out)
    size = out.stat().st_size
    print(f"wrote {out} ({size} bytes)")
    if size > MAX_BYTES:
        print(f"error: {out} is {size} bytes, over the {MAX_BYTES} byte limit for the committed demo model",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
