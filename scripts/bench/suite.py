"""The side-by-side benchmark's models (`make bench`): which network, at what size, fed what.

Each entry reuses a network of tests/models (nets.py, or torchvision as model_zoo.py does) at a realistic
size, exported with random weights and a dynamic batch dimension, and says which family of the issue's
table it stands for. Inputs are made as the model suite makes them (run_model_test.make_inputs). Standard
library only: torch is imported when a model is exported, not when the table is read.
"""
from __future__ import annotations

import dataclasses
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "models"))

from model_zoo import Input, ModelSpec, Output  # noqa: E402

OPSET = 17
EXAMPLE_BATCH = 2  # the batch torch.onnx.export traces with; the bench runs others (dynamic axis "batch")
BATCH = {0: "batch"}


@dataclasses.dataclass(frozen=True)
class BenchModel:
    spec: ModelSpec       # name, inputs and outputs (dynamic batch), opset, BatchNorm calibration
    build: str            # "torchvision.<name>" or "nets.<callable>"
    kwargs: tuple         # keyword arguments of the build, as (name, value) pairs
    shapes: dict          # input name -> shape without the batch dimension
    family: str           # the family of the table it stands for
    conv_heavy: bool = False  # dense convolutions dominate: its % of the FMA peak is reported

    @property
    def name(self) -> str:
        return self.spec.name

    def case(self, batch: int) -> dict:
        return {name: (batch, *shape) for name, shape in self.shapes.items()}


def _image_model(name, build, kwargs=(), channels=3, size=224, family="", conv_heavy=False, outputs=("output",),
                 calibrate=True):
    shape = (channels, size, size)
    spec = ModelSpec(
        name=name, builder="bench",
        inputs=(Input("input", BATCH, example=(EXAMPLE_BATCH, *shape)),),
        outputs=tuple(Output(o, BATCH) for o in outputs),
        cases=(), opset=OPSET,
        bn_calibration=(4, channels, min(size, 128), min(size, 128)) if calibrate else None)
    return BenchModel(spec, build, tuple(kwargs), {"input": shape}, family, conv_heavy)


def _sequence_model(name, build, kwargs, inputs, outputs, family):
    """inputs: ((name, kind, shape without batch), ...)."""
    spec = ModelSpec(
        name=name, builder="bench",
        inputs=tuple(Input(n, BATCH, kind=k, example=(EXAMPLE_BATCH, *s)) for n, k, s in inputs),
        outputs=tuple(Output(o, BATCH) for o in outputs), cases=(), opset=OPSET)
    return BenchModel(spec, build, tuple(kwargs), {n: s for n, _, s in inputs}, family)


MODELS = (
    _image_model("resnet18", "torchvision.resnet18", family="dense CNN", conv_heavy=True),
    _image_model("resnet50", "torchvision.resnet50", family="dense CNN", conv_heavy=True),
    _image_model("mobilenet_v2", "torchvision.mobilenet_v2", family="MobileNet-v2"),
    _image_model("mobilenet_v3_large", "torchvision.mobilenet_v3_large", family="MobileNet-v3 / EfficientNet"),
    _image_model("efficientnet_b0", "torchvision.efficientnet_b0", family="MobileNet-v3 / EfficientNet"),
    _image_model("squeezenet1_1", "torchvision.squeezenet1_1", family="SqueezeNet", conv_heavy=True),
    _image_model("lraspp_mobilenet_v3", "nets.lraspp_mobilenet_v3", size=256,
                 family="segmentation, bilinear upsampling"),
    _image_model("super_resolution", "nets.super_resolution", channels=1, family="dense CNN (super-resolution)",
                 conv_heavy=True, calibrate=False),
    _image_model("vit_tiny", "nets.TinyViT",
                 kwargs=(("image", 224), ("patch", 16), ("dim", 192), ("heads", 3), ("layers", 12),
                         ("classes", 1000)),
                 family="transformer encoder (ViT)", calibrate=False),
    _sequence_model("bert_mini", "nets.TinyBert",
                    kwargs=(("dim", 256), ("heads", 4), ("layers", 4), ("max_len", 512)),
                    inputs=(("input_ids", "tokens", (128,)), ("attention_mask", "mask", (128,))),
                    outputs=("last_hidden_state", "pooler_output"), family="transformer encoder (BERT)"),
    _sequence_model("gpt_mini", "nets.GptDecoder",
                    kwargs=(("dim", 256), ("heads", 4), ("layers", 4), ("max_len", 256)),
                    inputs=(("input_ids", "tokens", (128,)),), outputs=("logits",),
                    family="transformer decoder (GPT)"),
    _sequence_model("lstm_tagger", "nets.LstmTagger", kwargs=(("embed", 128), ("hidden", 256), ("tags", 17)),
                    inputs=(("input_ids", "tokens", (64,)),), outputs=("tags",), family="LSTM"),
    _sequence_model("gru_classifier", "nets.GruClassifier",
                    kwargs=(("features", 80), ("hidden", 256), ("layers", 2), ("classes", 35)),
                    inputs=(("features", "normal", (100, 80)),), outputs=("logits",), family="GRU"),
    _image_model("dcgan_generator", "nets.ConvTransposeGenerator",
                 kwargs=(("latent", 100), ("width", 64), ("blocks", 4)), channels=100, size=1,
                 family="ConvTranspose generator"),
)

BY_NAME = {m.name: m for m in MODELS}
QUICK = ("resnet18", "mobilenet_v2", "bert_mini", "lstm_tagger")


def get(name: str) -> BenchModel:
    if name not in BY_NAME:
        raise KeyError(f"unknown benchmark model '{name}'; the suite has: {', '.join(BY_NAME)}")
    return BY_NAME[name]
