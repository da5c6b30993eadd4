"""The model suite's table: which models, their inputs and outputs, and the input sizes each test runs.

This module needs only the standard library, so CMake can list the models (`python model_zoo.py --list`) and
the test runner can make inputs without importing torch. The networks themselves are built in nets.py
(custom ones) or taken from torchvision; export_models.py turns a spec into an .onnx file.
"""
from __future__ import annotations

import dataclasses
import sys

OPSET = 17
VOCAB = 1000  # token ids of the BERT-style encoder are drawn from [0, VOCAB)


@dataclasses.dataclass(frozen=True)
class Input:
    name: str
    axes: dict  # dynamic_axes entry for this input: {dim index: symbol name}
    kind: str = "normal"  # "normal": float32 N(0,1); "tokens": int64 in [0, VOCAB); "mask": int64 0/1, ones first
    example: tuple = ()  # shape of the example the exporter traces with


@dataclasses.dataclass(frozen=True)
class Output:
    name: str
    axes: dict


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: str  # "torchvision" (torchvision.models.<name>(weights=None)) or a function name in nets.py
    inputs: tuple
    outputs: tuple
    cases: tuple  # each case: {input name: shape}; every model runs two, at sizes other than the example
    opset: int = OPSET
    # Shape of random data that sets BatchNorm running statistics before export (None: no BatchNorm).
    # Left at their initial 0/1, BN is the identity, random-weight activations shrink layer after layer
    # (mobilenet_v2 logits ~1e-9, efficientnet_b0 ~1e-14) and the folded Conv biases are all zero;
    # calibrated, outputs are O(1) as in a trained model and the folded biases are real.
    bn_calibration: tuple = None

    def dynamic_axes(self) -> dict:
        return {io.name: io.axes for io in (*self.inputs, *self.outputs) if io.axes}


def _classifier(name: str) -> ModelSpec:
    # A user serving an image classifier leaves batch and image size free.
    return ModelSpec(
        name=name, builder="torchvision",
        inputs=(Input("input", {0: "batch", 2: "height", 3: "width"}, example=(1, 3, 224, 224)),),
        outputs=(Output("logits", {0: "batch"}),),
        cases=({"input": (1, 3, 224, 224)}, {"input": (2, 3, 160, 160)}),
        bn_calibration=(4, 3, 96, 96))


MODELS = (
    ModelSpec(
        name="super_resolution", builder="super_resolution",
        inputs=(Input("input", {0: "batch", 2: "height", 3: "width"}, example=(1, 1, 224, 224)),),
        outputs=(Output("output", {0: "batch", 2: "out_height", 3: "out_width"}),),
        cases=({"input": (1, 1, 128, 96)}, {"input": (2, 1, 61, 83)})),
    _classifier("resnet18"),
    _classifier("mobilenet_v2"),
    _classifier("mobilenet_v3_small"),
    _classifier("efficientnet_b0"),
    _classifier("squeezenet1_1"),
    ModelSpec(
        name="segmentation", builder="segmentation_net",
        inputs=(Input("image", {0: "batch", 2: "height", 3: "width"}, example=(1, 3, 64, 64)),),
        outputs=(Output("mask_logits", {0: "batch", 2: "height", 3: "width"}),),
        # Odd sizes: the stride-2 encoder rounds up, and the bilinear upsample must land on the input size.
        cases=({"image": (1, 3, 96, 128)}, {"image": (2, 3, 75, 50)}),
        bn_calibration=(4, 3, 64, 64)),
    ModelSpec(
        name="vit", builder="tiny_vit",
        inputs=(Input("pixel_values", {0: "batch"}, example=(2, 3, 32, 32)),),
        outputs=(Output("logits", {0: "batch"}),),
        cases=({"pixel_values": (1, 3, 32, 32)}, {"pixel_values": (3, 3, 32, 32)})),
    ModelSpec(
        name="bert", builder="tiny_bert",
        inputs=(Input("input_ids", {0: "batch", 1: "sequence"}, kind="tokens", example=(2, 12)),
                Input("attention_mask", {0: "batch", 1: "sequence"}, kind="mask", example=(2, 12))),
        outputs=(Output("last_hidden_state", {0: "batch", 1: "sequence"}),
                 Output("pooler_output", {0: "batch"})),
        cases=({"input_ids": (1, 16), "attention_mask": (1, 16)},
               {"input_ids": (3, 7), "attention_mask": (3, 7)})),
    ModelSpec(
        name="gpt", builder="tiny_gpt",
        inputs=(Input("input_ids", {0: "batch", 1: "sequence"}, kind="tokens", example=(2, 12)),),
        outputs=(Output("logits", {0: "batch", 1: "sequence"}),),
        # At most 64 positions (the learned position table and the causal mask buffer).
        cases=({"input_ids": (1, 16)}, {"input_ids": (3, 7)})),
    ModelSpec(
        name="lstm", builder="bidirectional_lstm",
        inputs=(Input("sequence", {0: "batch", 1: "time"}, example=(2, 10, 16)),),
        outputs=(Output("output", {0: "batch", 1: "time"}), Output("h_n", {1: "batch"}),
                 Output("c_n", {1: "batch"})),
        cases=({"sequence": (1, 20, 16)}, {"sequence": (3, 7, 16)})),
)

BY_NAME = {spec.name: spec for spec in MODELS}


def get(name: str) -> ModelSpec:
    if name not in BY_NAME:
        raise KeyError(f"unknown model '{name}'; the suite has: {', '.join(BY_NAME)}")
    return BY_NAME[name]


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        # One CMake list: "a;b;c" (CMake reads it with execute_process).
        print(";".join(BY_NAME), end="")
    else:
        print("usage: model_zoo.py --list", file=sys.stderr)
        sys.exit(2)
