#!/usr/bin/env python3
"""What kiln's graph passes do to real PyTorch exports: nodes removed and fused nodes made, pass by pass.

    .venv/bin/python scripts/pass_report.py --kiln build/kiln [--out build/pass-report] [--check]

Exports ResNet-18, ResNet-50 and MobileNet-v2 (torchvision, random weights), ResNet-18 exported with
training=PRESERVE and do_constant_folding=False (BatchNorm left in the file, as some exports are), and the
model suite's BERT-style encoder and GPT-style decoder (tests/models/nets.py), each at torch's default opset
and at opset 17, with dynamic batch (and image size or sequence). Then runs `kiln optimize --json` on each and
prints one markdown table per model. With --check, also runs `kiln run` with passes on and off on the same
random inputs as onnxruntime and prints the relative L2 error of each against it.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "models"))


def models():
    """(name, builder, example inputs, input names, dynamic axes, export kwargs)."""
    import torch
    import torchvision
    import model_zoo
    import nets

    image = {"input": {0: "batch", 2: "height", 3: "width"}}
    tokens = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    ids = torch.randint(0, model_zoo.VOCAB, (2, 12))
    return [
        ("resnet18", lambda: torchvision.models.resnet18(weights=None), (torch.randn(1, 3, 224, 224),), ["input"], image, {}),
        ("resnet18 (BatchNorm kept)", lambda: torchvision.models.resnet18(weights=None),
         (torch.randn(1, 3, 224, 224),), ["input"], image,
         {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}),
        ("resnet50", lambda: torchvision.models.resnet50(weights=None), (torch.randn(1, 3, 224, 224),), ["input"], image, {}),
        ("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(weights=None), (torch.randn(1, 3, 224, 224),),
         ["input"], image, {}),
        ("bert", nets.tiny_bert, (ids, torch.ones(2, 12, dtype=torch.int64)), ["input_ids", "attention_mask"], tokens, {}),
        ("gpt", nets.gpt_decoder, (ids,), ["input_ids"], {"input_ids": tokens["input_ids"]}, {}),
    ]


def export(name, build, args, input_names, axes, kwargs, opset, path):
    import torch
    torch.manual_seed(0)
    model = build().eval()
    options = dict(kwargs)
    if opset is not None:
        options["opset_version"] = opset
    torch.onnx.export(model, args, str(path), input_names=input_names, dynamic_axes=axes, **options)


def feeds_for(path):
    import onnx
    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in graph.input:
        if inp.name in initializers:
            continue
        dims = [d.dim_value if d.dim_value else {"batch": 2, "height": 96, "width": 80}.get(d.dim_param, 9)
                for d in inp.type.tensor_type.shape.dim]
        if inp.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            feeds[inp.name] = (np.ones(dims, np.int64) if "mask" in inp.name else rng.integers(0, 1000, dims))
        else:
            feeds[inp.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def check(kiln, path):
    """Relative L2 of kiln with passes on and off against onnxruntime, per output."""
    import onnxruntime as ort
    feeds = feeds_for(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        args = []
        for name, array in feeds.items():
            np.save(tmp / f"{name}.npy", array)
            args += ["--input", f"{name}={tmp / (name + '.npy')}"]
        for label, extra in (("on", []), ("off", ["--no-optimize"])):
            out = tmp / label
            subprocess.run([kiln, "run", str(path), *args, "--output-dir", str(out), *extra], check=True,
                           capture_output=True)
            errors = []
            for name, w in want.items():
                got = np.load(out / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy"))
                errors.append(float(np.linalg.norm(got - w) / max(np.linalg.norm(w), 1e-30)))
            result[label] = max(errors)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", default=str(REPO / "build" / "kiln"))
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "build" / "pass-report")
    parser.add_argument("--check", action="store_true", help="compare kiln (passes on and off) with onnxruntime")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch
    default_opset = torch.onnx._constants.ONNX_DEFAULT_OPSET
    for name, build, example, input_names, axes, kwargs in models():
        for opset in (None, 17):
            label = f"{name}, opset {opset or default_opset}{' (default)' if opset is None else ''}"
            path = args.out / f"{name.split()[0]}{'_bn' if kwargs else ''}_{opset or 'default'}.onnx"
            if not path.exists():
                export(name, build, example, input_names, axes, kwargs, opset, path)
            report = json.loads(subprocess.run([args.kiln, "optimize", str(path), "--json"], check=True,
                                               capture_output=True, text=True).stdout)
            print(f"\n### {label}: {report['nodes_before']} -> {report['nodes_after']} nodes\n")
            print("| pass | nodes removed | fused nodes made |\n| --- | ---: | ---: |")
            for p in report["passes"]:
                removed = p["nodes_before"] - p["nodes_after"]
                if removed or p["fused_nodes_made"]:
                    print(f"| {p['name']} | {removed} | {p['fused_nodes_made']} |")
            kiln_ops = {k: v for k, v in report["ops"].items() if k.startswith("ai.kiln.")}
            print(f"\nai.kiln ops: {', '.join(f'{k[8:]} {v}' for k, v in kiln_ops.items()) or 'none'}")
            if args.check:
                errors = check(args.kiln, path)
                print(f"max rel L2 vs onnxruntime: passes on {errors['on']:.2e}, off {errors['off']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
