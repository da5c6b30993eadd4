"""Per-output error statistics of `kiln compare`.

An element fails when its absolute error exceeds atol AND its relative error exceeds rtol (so either tolerance
alone lets it pass, as in Polygraphy); a NaN in either output fails; equal values (infinities included) pass.
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

TINY = 1e-30  # floor of |reference| in the relative error, so an exact 0 gives a finite (huge) figure
# Histogram of absolute errors: exact, then one bin per decade from below 1e-9 to 1 and above.
EDGES = [0.0] + [10.0 ** e for e in range(-9, 1)] + [np.inf]


def _bin_label(lo: float, hi: float) -> str:
    if lo == 0.0:
        return f"<{hi:.0e}"
    if hi == np.inf:
        return f">={lo:.0e}"
    return f"{lo:.0e}..{hi:.0e}"


def compare_arrays(name: str, got: Any, want: Any, atol: float, rtol: float) -> Dict[str, Any]:
    """The report of one output: figures, histogram, the least tolerances that pass, and the verdict."""
    got, want = np.asarray(got), np.asarray(want)
    r: Dict[str, Any] = {"name": name, "shape": list(want.shape), "dtype": str(want.dtype), "elements": int(want.size)}
    if got.shape != want.shape or got.dtype != want.dtype:
        r.update(passed=False, error=f"kiln gave {got.dtype} {list(got.shape)}, the reference "
                                     f"{want.dtype} {list(want.shape)}")
        return r
    if got.dtype == object or want.dtype.kind in "US":
        equal = np.asarray(got == want)
        r.update(passed=bool(equal.all()), mismatches=int((~equal).sum()))
        return r
    g, w = got.astype(np.float64), want.astype(np.float64)
    nan = np.isnan(g) | np.isnan(w)
    same = g == w
    with np.errstate(invalid="ignore", over="ignore"):
        abs_err = np.where(same | nan, 0.0, np.abs(g - w))
        rel_err = np.where(same | nan, 0.0, abs_err / np.maximum(np.abs(w), TINY))
    fails = nan | ((abs_err > atol) & (rel_err > rtol))
    finite = np.isfinite(abs_err) & ~nan
    a, rel = abs_err[finite], rel_err[finite]
    r["abs"] = _figures(a)
    r["rel"] = _figures(rel)
    counts, _ = np.histogram(np.where(np.isfinite(abs_err), abs_err, np.finfo(np.float64).max)[~nan], bins=EDGES)
    r["histogram"] = [{"bin": _bin_label(lo, hi), "count": int(c)} for lo, hi, c in zip(EDGES, EDGES[1:], counts)]
    # The least atol that passes at this rtol (and the least rtol at this atol): the largest error among the
    # elements the other tolerance does not let through. Infinite when NaN or inf errors remain.
    need_atol = abs_err[rel_err > rtol]
    need_rtol = rel_err[abs_err > atol]
    blocked = bool(nan.any())
    r["min_atol"] = float("inf") if blocked else float(need_atol.max()) if need_atol.size else 0.0
    r["min_rtol"] = float("inf") if blocked else float(need_rtol.max()) if need_rtol.size else 0.0
    r["nan"] = {"kiln": int(np.isnan(g).sum()), "reference": int(np.isnan(w).sum())}
    r["mismatches"] = int(fails.sum())
    r["passed"] = r["mismatches"] == 0
    if fails.any():
        i = int(np.flatnonzero(fails.ravel())[0])
        r["first_mismatch"] = {"index": [int(x) for x in np.unravel_index(i, want.shape)],
                               "kiln": float(g.ravel()[i]), "reference": float(w.ravel()[i])}
    return r


def _figures(x: np.ndarray) -> Dict[str, float]:
    if x.size == 0:
        return {"max": 0.0, "mean": 0.0, "median": 0.0}
    return {"max": float(x.max()), "mean": float(x.mean()), "median": float(np.median(x))}


def format_report(r: Dict[str, Any], atol: float, rtol: float) -> List[str]:
    head = f"{r['name']}  [{','.join(map(str, r['shape']))}] {r['dtype']}  {'PASS' if r['passed'] else 'FAIL'}"
    lines = [head]
    if "error" in r:
        return lines + [f"  {r['error']}"]
    if "abs" not in r:
        return lines + [f"  mismatches: {r['mismatches']} of {r['elements']}"]
    for key in ("abs", "rel"):
        f = r[key]
        lines.append(f"  {key} error: max {f['max']:.3e}  mean {f['mean']:.3e}  median {f['median']:.3e}")
    hist = "  ".join(f"{h['bin']}: {h['count']}" for h in r["histogram"] if h["count"])
    lines.append(f"  abs error histogram: {hist}")
    lines.append(f"  passes with --atol {r['min_atol']:.3e} (at --rtol {rtol:g}) or --rtol {r['min_rtol']:.3e} "
                 f"(at --atol {atol:g})")
    nan = r["nan"]
    if nan["kiln"] or nan["reference"]:
        lines.append(f"  NaN: {nan['kiln']} in kiln, {nan['reference']} in the reference (NaN is a mismatch)")
    lines.append(f"  mismatches: {r['mismatches']} of {r['elements']} (an element fails when it exceeds both "
                 f"atol {atol:g} and rtol {rtol:g})")
    if "first_mismatch" in r:
        m = r["first_mismatch"]
        lines.append(f"  first mismatch at {m['index']}: kiln {m['kiln']:.6g}, reference {m['reference']:.6g}")
    return lines
