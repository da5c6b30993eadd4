"""kiln.export: torch.onnx.export with the classic export mistakes caught when they are made, and the result
verified on kiln against torch.

    report = kiln.export(model, (x,), "model.onnx", input_names=["input"], output_names=["logits"],
                         dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print(report)  # the largest error at the traced size and at a second size of every dynamic axis

What it catches (each an ExportError, or an ExportWarning where the export is usable):
- the model left in training mode (it is put in eval mode: dropout off, BatchNorm running statistics);
- export_params=False (a file without weights) unless allow_missing_weights=True;
- inputs exported with fixed sizes: a warning that gives the exact dynamic_axes to pass;
- dynamic_axes keys that name no input or output, axes beyond an input's rank;
- tracer warnings (a tensor turned into a Python bool, int or float: control flow or a size baked into the
  graph) unless allow_tracer_warnings=True;
- an op the requested opset cannot express: the lowest opset that exports it is found and named;
- then verify=True runs the file on kiln and the model in torch at the traced shapes and at a second size for
  every dynamic axis, and reports the largest error (ExportError when over atol/rtol or when the file fails
  at the second size: a shape the trace baked in).
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["export", "ExportError", "ExportWarning", "ExportReport"]

AxesSpec = Union[Mapping[int, str], Sequence[int]]


class ExportError(Exception):
    """An export mistake that would fail or mislead later; the message says how to fix it."""


class ExportWarning(UserWarning):
    """An export that works but is probably not what was meant (fixed input sizes)."""


@dataclasses.dataclass
class ExportReport:
    path: str
    opset_version: Optional[int]
    checks: List[Dict[str, Any]]  # per verified size: {"shapes": {input: shape}, "max_abs": ..., "max_rel": ...}
    max_abs_error: float
    max_rel_error: float

    def __str__(self) -> str:
        lines = [f"exported {self.path} (opset {self.opset_version or 'default'}); verified on kiln:"]
        for c in self.checks:
            shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in c["shapes"].items())
            lines.append(f"  {shapes}: max abs error {c['max_abs']:.3e}, max rel error {c['max_rel']:.3e}")
        return "\n".join(lines)


def _as_tuple(args: Any) -> Tuple[Any, ...]:
    import torch
    if isinstance(args, torch.Tensor):
        return (args,)
    return tuple(args)


def _normalize_axes(dynamic_axes: Optional[Mapping[str, AxesSpec]]) -> Dict[str, Dict[int, str]]:
    out: Dict[str, Dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, Mapping):
            out[name] = {int(k): str(v) for k, v in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dim_{int(a)}" for a in axes}
    return out


def _suggest_axes(name: str, rank: int) -> Dict[int, str]:
    if rank == 4:
        return {0: "batch", 2: "height", 3: "width"}
    if rank == 3:
        return {0: "batch", 1: "sequence"}
    if rank == 2:
        return {0: "batch", 1: "sequence"} if name.lower().find("id") >= 0 or "token" in name.lower() else {0: "batch"}
    return {0: "batch"} if rank >= 1 else {}


def _check_names(tensors: Tuple[Any, ...], input_names: Sequence[str], output_names: Sequence[str],
                 axes: Dict[str, Dict[int, str]]) -> None:
    import torch
    known = list(input_names) + list(output_names)
    for key in axes:
        if key not in known:
            raise ExportError(f"dynamic_axes names '{key}', which is neither an input ({list(input_names)}) nor an "
                              f"output ({list(output_names)}); torch.onnx.export would ignore it and fix that "
                              "tensor's sizes. Use the names given in input_names/output_names.")
    for name, t in zip(input_names, tensors):
        if isinstance(t, torch.Tensor) and name in axes:
            bad = [a for a in axes[name] if not -t.dim() <= a < t.dim()]
            if bad:
                raise ExportError(f"dynamic_axes['{name}'] names axes {bad}, but the example input '{name}' has "
                                  f"rank {t.dim()} (shape {list(t.shape)})")


def _warn_fixed(tensors: Tuple[Any, ...], input_names: Sequence[str], output_names: Sequence[str],
                axes: Dict[str, Dict[int, str]]) -> None:
    import torch
    fixed = {name: t for name, t in zip(input_names, tensors)
             if isinstance(t, torch.Tensor) and t.dim() >= 1 and name not in axes}
    if not fixed:
        return
    suggestion = {**axes, **{n: _suggest_axes(n, t.dim()) for n, t in fixed.items()}}
    if output_names:
        for o in output_names:
            suggestion.setdefault(o, {0: "batch"})
    listed = ", ".join(f"'{n}' {list(t.shape)}" for n, t in fixed.items())
    warnings.warn(f"inputs {listed} are exported with fixed sizes: the model will refuse any other batch or "
                  f"size. If they vary, pass dynamic_axes={suggestion!r}", ExportWarning, stacklevel=3)


def _opset_needed(model: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any], tried: int) -> Optional[int]:
    """The lowest opset above `tried` at which torch exports the model, or None."""
    import torch
    try:
        from torch.onnx import _constants
        highest = int(_constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError):
        highest = 17
    with tempfile.TemporaryDirectory() as tmp:
        for opset in range(tried + 1, highest + 1):
            # torch 1.13 can fail once with an unrelated internal error (a pybind11 cast) on the export that
            # follows a refused one: a second try at the same opset tells the two apart.
            for _ in range(2):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        torch.onnx.export(model, args, os.path.join(tmp, "probe.onnx"),
                                          **{**kwargs, "opset_version": opset})
                    return opset
                except Exception as e:  # noqa: BLE001 - any failure: try again, then the next opset
                    if _is_unsupported(str(e)):
                        break
    return None


def _torch_outputs(model: Any, args: Tuple[Any, ...]) -> List[np.ndarray]:
    import torch
    with torch.no_grad():
        out = model(*args)
    flat: List[Any] = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o.detach().cpu().numpy() for o in flat]


def _second_size(args: Tuple[Any, ...], input_names: Sequence[str], axes: Dict[str, Dict[int, str]]) -> Optional[Tuple[Any, ...]]:
    """The example inputs with every dynamic axis given another size (grown by one; a named size shared by
    several inputs stays equal across them). None when nothing is dynamic."""
    import torch
    sizes: Dict[str, int] = {}
    changed = False
    new: List[Any] = []
    for i, t in enumerate(args):
        name = input_names[i] if i < len(input_names) else None
        if not isinstance(t, torch.Tensor) or name not in axes:
            new.append(t)
            continue
        shape = list(t.shape)
        for a, symbol in axes[name].items():
            sizes.setdefault(symbol, shape[a] + 1)
            shape[a] = sizes[symbol]
        changed = True
        if t.dtype.is_floating_point:
            new.append(torch.randn(*shape, dtype=t.dtype))
        else:
            high = int(t.max().item()) + 1 if t.numel() else 2
            new.append(torch.randint(0, max(high, 1), shape, dtype=t.dtype))
    return tuple(new) if changed else None


def _verify(model: Any, path: str, args: Tuple[Any, ...], input_names: Sequence[str],
            axes: Dict[str, Dict[int, str]], rtol: float, atol: float) -> List[Dict[str, Any]]:
    from .session import InferenceSession
    session = InferenceSession(path)
    names = [i.name for i in session.get_inputs()]
    checks = []
    cases = [("traced", args)]
    second = _second_size(args, input_names, axes)
    if second is not None:
        cases.append(("second", second))
    for label, case in cases:
        tensors = [t for t in case if hasattr(t, "numpy")]
        feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, tensors)}
        shapes = {n: list(v.shape) for n, v in feeds.items()}
        want = _torch_outputs(model, case)
        try:
            got = session.run(None, feeds)
        except Exception as e:  # noqa: BLE001 - reported with the sizes
            raise ExportError(f"the exported file fails on kiln at the {label} sizes {shapes}: {e}. "
                              + ("A size the trace saw is baked into the graph (a Python int from x.shape or "
                                 "a tensor converted to a number); compute shapes with tensor ops or mark the "
                                 "axis in dynamic_axes." if label == "second" else "")) from None
        max_abs = max_rel = 0.0
        for g, w in zip(got, want):
            if g.shape != w.shape:
                raise ExportError(f"at the {label} sizes {shapes} kiln gives shape {list(g.shape)} where torch "
                                  f"gives {list(w.shape)}: the export baked in a size")
            diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
            max_abs = max(max_abs, float(diff.max()) if diff.size else 0.0)
            rel = diff / np.maximum(np.abs(w.astype(np.float64)), 1e-30)
            max_rel = max(max_rel, float(rel.max()) if rel.size else 0.0)
            if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
                raise ExportError(f"at the {label} sizes {shapes} kiln and torch differ by up to {max_abs:.3e} "
                                  f"(atol {atol:g}, rtol {rtol:g}); `kiln compare {path} --layerwise` finds the "
                                  "first diverging node. A value the trace baked in (control flow, a size) is "
                                  "the usual cause at the second size")
        checks.append({"label": label, "shapes": shapes, "max_abs": max_abs, "max_rel": max_rel})
    return checks


def export(model: Any, args: Any, path: Union[str, "os.PathLike[str]"], *, input_names: Sequence[str],
           output_names: Sequence[str], dynamic_axes: Optional[Mapping[str, AxesSpec]] = None,
           opset_version: Optional[int] = None, export_params: bool = True, allow_missing_weights: bool = False,
           allow_tracer_warnings: bool = False, verify: bool = True, rtol: float = 1e-3, atol: float = 1e-5,
           **kwargs: Any) -> ExportReport:
    """Exports `model` with torch.onnx.export and checks the result (module docstring). Extra keyword
    arguments go to torch.onnx.export (on torch 2.x, dynamo=False is passed unless given)."""
    import torch
    path = os.fspath(path)
    args_t = _as_tuple(args)
    if not export_params and not allow_missing_weights:
        raise ExportError("export_params=False writes a file without the trained weights: every runtime then "
                          "needs them fed as inputs (conv1.weight, ...). Pass export_params=True, or "
                          "allow_missing_weights=True if that is what you want.")
    axes = _normalize_axes(dynamic_axes)
    _check_names(args_t, input_names, output_names, axes)
    _warn_fixed(args_t, input_names, output_names, axes)
    model.eval()  # dropout off, BatchNorm on its running statistics: what inference means
    options: Dict[str, Any] = dict(kwargs, export_params=export_params, input_names=list(input_names),
                                   output_names=list(output_names), dynamic_axes=dynamic_axes)
    if opset_version is not None:
        options["opset_version"] = opset_version
    if int(torch.__version__.split(".")[0]) >= 2:
        options.setdefault("dynamo", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch.onnx.export(model, args_t, path, **options)
        except Exception as e:  # noqa: BLE001 - classified below
            text = str(e).split("[Caused by")[0].strip()
            if _is_unsupported(text):
                tried = opset_version or _default_opset()
                needed = _opset_needed(model, args_t, {k: v for k, v in options.items() if k != "opset_version"}, tried)
                if needed is not None:
                    raise ExportError(f"{text}\nThis model needs opset {needed}: pass opset_version={needed} "
                                      f"(it was {tried}).") from None
            raise
    tracer = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    for w in caught:
        if w not in tracer and not issubclass(w.category, ExportWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if tracer and not allow_tracer_warnings:
        where = "\n".join(f"  {w.filename}:{w.lineno}: {str(w.message).splitlines()[0]}" for w in tracer)
        raise ExportError(f"the trace turned tensors into Python values, so the graph holds what they were for "
                          f"this example (an if/while on a tensor, or a size taken as a number):\n{where}\n"
                          "Rewrite that code with tensor ops (torch.where, shapes as tensors), or pass "
                          "allow_tracer_warnings=True if the values never change.")
    checks = _verify(model, path, args_t, input_names, axes, rtol, atol) if verify else []
    return ExportReport(path=path, opset_version=opset_version, checks=checks,
                        max_abs_error=max((c["max_abs"] for c in checks), default=0.0),
                        max_rel_error=max((c["max_rel"] for c in checks), default=0.0))


def _is_unsupported(text: str) -> bool:
    """torch's refusals of an op at an opset ("Unsupported: ONNX export of operator ...", "Exporting the
    operator ... to ONNX opset version N is not supported")."""
    return "Unsupported" in text or "not supported" in text or "opset" in text.lower()


def _default_opset() -> int:
    try:
        from torch.onnx import _constants
        return int(_constants.ONNX_DEFAULT_OPSET)
    except (ImportError, AttributeError):
        return 14
