"""Exports the benchmark's models and makes their inputs, cached in a folder (default build/bench-models).

A model is exported again only when its entry in suite.py, the network sources (tests/models) or torch
change; inputs are made from a fixed seed for each batch size, the way the model suite makes them.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import pathlib
import sys

import suite

HERE = pathlib.Path(__file__).resolve().parent
MODELS_DIR = suite.REPO / "tests" / "models"
sys.path.insert(0, str(MODELS_DIR))

import export_models  # noqa: E402
import run_model_test  # noqa: E402

SEED = 1234
SOURCES = (HERE / "suite.py", HERE / "models.py", MODELS_DIR / "nets.py", MODELS_DIR / "model_zoo.py",
           MODELS_DIR / "export_models.py", suite.REPO / "scripts" / "make_demo_model.py")


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        import torch
        return torch.__version__


def cache_key(bm: suite.BenchModel) -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.read_bytes())
    digest.update(f"{bm!r}|torch {_torch_version()}".encode())
    return digest.hexdigest()


def _distinct_layers(module):
    """nn.TransformerEncoder deep-copies one layer, so at random init every layer has the same weights, and
    torch.onnx.export then stores them once: a ViT-Tiny would ship 0.9 M parameters instead of 5.7 M and run
    from an unrealistically small, cache-friendly weight set. Re-draw each copy's parameters."""
    import torch.nn as nn
    for encoder in (m for m in module.modules() if isinstance(m, nn.TransformerEncoder)):
        for layer in encoder.layers:
            for sub in layer.modules():
                reset = getattr(sub, "reset_parameters", None) or getattr(sub, "_reset_parameters", None)
                if reset and sub is not layer:
                    reset()
    return module


def build_module(bm: suite.BenchModel):
    kind, _, attr = bm.build.partition(".")
    kwargs = dict(bm.kwargs)
    if kind == "torchvision":
        import torchvision
        return getattr(torchvision.models, attr)(weights=None, **kwargs)
    import nets
    return _distinct_layers(getattr(nets, attr)(**kwargs))


def ensure_exported(bm: suite.BenchModel, cache: pathlib.Path, log=print) -> pathlib.Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{bm.name}.onnx"
    key_file = path.with_name(path.name + ".bench-key")
    key = cache_key(bm)
    if path.is_file() and key_file.is_file() and key_file.read_text().strip() == key:
        return path
    log(f"exporting {bm.name} ...")
    warnings = export_models.export(bm.spec, path, build=lambda: build_module(bm))
    for w in warnings:
        log(f"  export warning: {w}")
    key_file.write_text(key + "\n")
    return path


def ensure_inputs(bm: suite.BenchModel, batch: int, cache: pathlib.Path) -> dict:
    """Writes the inputs for `batch` as .npy files; returns {input name: path}."""
    import numpy as np
    folder = cache / "inputs" / f"{bm.name}-b{batch}"
    folder.mkdir(parents=True, exist_ok=True)
    feeds = run_model_test.make_inputs(bm.spec, bm.case(batch), np.random.default_rng(SEED))
    paths = {}
    for name, array in feeds.items():
        paths[name] = folder / f"{name}.npy"
        np.save(paths[name], array)
    return paths
