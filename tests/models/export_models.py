#!/usr/bin/env python3
"""Exports the model suite's models with torch.onnx.export into a cache folder.

    python export_models.py --cache DIR [--force] [NAME ...]     # default: every model

Random weights with a fixed seed, eval mode, export_params=True, the opset and dynamic_axes of model_zoo.py.
A model whose file is already in the cache, exported from the same sources by the same torch, is skipped, so
repeated test runs do not pay for export. Files are written under a temporary name and renamed, so a killed
export never leaves a half-written model behind.

Export warnings seen with torch 1.13.1 (all harmless for these models; the suite compares kiln with
onnxruntime on the exported file, not with torch):
  - vit, bert: TracerWarning "Converting a tensor to a Python boolean/float" from the shape asserts and the
    sqrt(head_dim) scale inside F.multi_head_attention_forward; the values are constants for these models.
  - lstm: TracerWarning from nn.LSTM's input-shape checks, and a UserWarning that exporting an LSTM with a
    batch size other than 1 "can cause an error" at another batch size; the exported initial states are
    built from Shape(input), so every batch size works (the suite runs batch 1 and 3).
  - segmentation, lstm: UserWarning "The shape inference of prim::Constant type is missing".
  - The torchvision classifiers and super_resolution export without warnings.
"""
import argparse
import hashlib
import importlib.metadata
import os
import pathlib
import sys
import time
import warnings

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import model_zoo  # noqa: E402

SEED = 0
# A change to any of these files may change an exported model, so it invalidates the cache.
SOURCES = (HERE / "model_zoo.py", HERE / "nets.py", HERE / "export_models.py",
           REPO / "scripts" / "make_demo_model.py")


def model_path(cache: pathlib.Path, name: str) -> pathlib.Path:
    return cache / f"{name}.onnx"


def _torch_version() -> str:
    try:  # without importing torch, which takes a second: a cached run should cost next to nothing
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        import torch
        return torch.__version__


def cache_key(spec: model_zoo.ModelSpec) -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.read_bytes())
    digest.update(f"{spec.name}|torch {_torch_version()}".encode())
    return digest.hexdigest()


def _key_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name + ".key")


def is_current(spec: model_zoo.ModelSpec, path: pathlib.Path) -> bool:
    key = _key_path(path)
    return path.is_file() and key.is_file() and key.read_text().strip() == cache_key(spec)


def _build(spec: model_zoo.ModelSpec):
    if spec.builder == "torchvision":
        import torchvision
        return getattr(torchvision.models, spec.name)(weights=None)
    import nets
    return getattr(nets, spec.builder)()


def _example(inp: model_zoo.Input):
    import torch
    if inp.kind == "tokens":
        return torch.randint(0, model_zoo.VOCAB, inp.example, dtype=torch.int64)
    if inp.kind == "mask":
        return torch.ones(inp.example, dtype=torch.int64)
    return torch.randn(inp.example)


def _calibrate_batchnorm(model, shape) -> None:
    """Sets every BatchNorm's running mean and variance to the statistics of one random batch."""
    import torch
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(shape))
    model.eval()


def export(spec: model_zoo.ModelSpec, path: pathlib.Path, build=None) -> list:
    """Exports one model to `path`; returns the warnings the exporter raised (as strings).

    `build` makes the nn.Module (called after seeding); default: the spec's builder. The benchmark suite
    (scripts/bench) passes its own, larger builds of the same networks."""
    import onnx
    import torch
    torch.manual_seed(SEED)
    model = (build() if build else _build(spec)).eval()
    if spec.bn_calibration:
        _calibrate_batchnorm(model, spec.bn_calibration)
    args = tuple(_example(inp) for inp in spec.inputs)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Not under torch.no_grad(): in eval mode without grad, nn.TransformerEncoder takes its fused
            # "fast path" (nested tensors), whose ops torch 1.13 cannot export (aten::logical_not, ...).
            torch.onnx.export(model, args, str(tmp), export_params=True, opset_version=spec.opset,
                              input_names=[i.name for i in spec.inputs],
                              output_names=[o.name for o in spec.outputs],
                              dynamic_axes=spec.dynamic_axes())
        onnx.checker.check_model(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _key_path(path).write_text(cache_key(spec) + "\n")
    return sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})


def ensure_exported(name: str, cache: pathlib.Path, force: bool = False, log=print) -> pathlib.Path:
    """Returns the cached model file for `name`, exporting it first when missing or stale."""
    spec = model_zoo.get(name)
    cache.mkdir(parents=True, exist_ok=True)
    path = model_path(cache, name)
    if not force and is_current(spec, path):
        log(f"{name}: cached {path}")
        return path
    start = time.monotonic()
    caught = export(spec, path)
    log(f"{name}: exported {path} ({path.stat().st_size} bytes) in {time.monotonic() - start:.2f} s")
    for w in caught:
        log(f"  export warning: {w}")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description="Export the model suite's models into a cache folder.")
    parser.add_argument("--cache", required=True, type=pathlib.Path, help="folder for the .onnx files")
    parser.add_argument("--force", action="store_true", help="export even when the cached file is current")
    parser.add_argument("models", nargs="*", help=f"default: all of {', '.join(model_zoo.BY_NAME)}")
    args = parser.parse_args()
    start = time.monotonic()
    try:
        for name in args.models or list(model_zoo.BY_NAME):
            ensure_exported(name, args.cache, force=args.force)
    except Exception as e:  # noqa: BLE001  (report any exporter failure as a failed run)
        print(f"error: export failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"total {time.monotonic() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
