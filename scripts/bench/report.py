"""Markdown tables of a side-by-side benchmark run (run_bench.py's results JSON), and the targets of issue 8
checked against them. `python report.py RESULTS.json [--update-doc docs/performance.md]` re-renders a saved
run."""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import re

BEGIN, END = "<!-- bench-results:begin -->", "<!-- bench-results:end -->"


def _fmt(x, spec=".2f", none="–"):
    return none if x is None else format(x, spec)


def _ratio(a, b):
    return a / b if a is not None and b else None


def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _mib(b):
    return None if b is None else b / 2 ** 20


def derived(row: dict, machine: dict) -> dict:
    """Per-row figures: latencies, ratios, GFLOP/s, % of the FMA peak (threads x per-core peak)."""
    k, o = row.get("kiln") or {}, row.get("ort") or {}
    d = {"kiln_ms": k.get("latency_ms", {}).get("median"), "ort_ms": o.get("latency_ms", {}).get("median")}
    d["ratio"] = _ratio(d["kiln_ms"], d["ort_ms"])
    d["cpu_ratio"] = (_ratio(k.get("cpu_ms", {}).get("median"), o.get("cpu_ms", {}).get("median"))
                      if row["threads"] == 1 else None)  # ORT's spinning workers inflate its CPU time above 1
    # GFLOP/s at 1 thread: per second of CPU time the run got, as the FMA peak is measured, so other work on
    # the machine does not deflate it; at more threads, per second of wall time (the latency).
    flop = 2 * row["macs"] if row.get("macs") else None
    single = row["threads"] == 1
    k_ms = k.get("cpu_ms", {}).get("median") if single else d["kiln_ms"]
    o_ms = o.get("cpu_ms", {}).get("median") if single else d["ort_ms"]
    d["kiln_gflops"] = flop / k_ms / 1e6 if flop and k_ms else None
    d["ort_gflops"] = flop / o_ms / 1e6 if flop and o_ms else None
    per_core = machine.get("measured", {}).get("fma_peak", {}).get("gflops_per_core")
    peak = per_core * row["threads"] if per_core else None
    d["kiln_peak"] = 100 * d["kiln_gflops"] / peak if row.get("conv_heavy") and peak and d["kiln_gflops"] else None
    d["ort_peak"] = 100 * d["ort_gflops"] / peak if row.get("conv_heavy") and peak and d["ort_gflops"] else None
    d["kiln_start"] = k["load_ms"] + k["first_run_ms"] if k else None
    d["ort_start"] = o["create_ms"] + o["first_run_ms"] if o else None
    # Resident memory above what the process held before loading the model (kiln: its binary; ORT: Python,
    # numpy and onnxruntime's libraries), so each side is charged for the model only.
    d["kiln_rss"] = _mib(k["memory"]["peak_rss_bytes"] - k["memory"]["rss_at_start_bytes"]) if k else None
    d["ort_rss"] = _mib(o["peak_rss_bytes"] - o["rss_at_start_bytes"]) if o else None
    d["kiln_allocs"] = (k.get("allocations_per_run") or {}).get("calls")
    return d


def machine_section(results: dict) -> list:
    m = results["machine"]
    cpu, isa, thr = m.get("cpu", {}), m.get("isa", {}), m.get("threads", {})
    fma = m.get("measured", {}).get("fma_peak", {})
    bw = m.get("measured", {}).get("memory_bandwidth", {})
    s = results["settings"]
    runs = f"{s['runs']} runs" if s.get("runs") else f"as many runs as fit in {s['seconds']} s (ORT: the same count)"
    caches = ", ".join(f"{c['level']} {c['size_bytes'] // 1024} KiB x{c['count']}" for c in m.get("caches", []))
    return [
        f"- Run {results['started']}, kiln {results.get('kiln_commit', '?')}, ONNX Runtime {results.get('ort_version', '?')}",
        f"- CPU: {cpu.get('name')} ({cpu.get('vendor')} family {cpu.get('family')} model {cpu.get('model')}), "
        f"{thr.get('usable')} usable CPUs; kiln's kernels at `{isa.get('active')}`; caches {caches}",
        f"- FP32 FMA peak (`kiln info --measure`, same run): {_fmt(fma.get('gflops_per_core'), '.1f')} GFLOP/s per "
        f"core, {_fmt(fma.get('gflops_all_threads'), '.1f')} on {fma.get('threads')} threads; triad bandwidth "
        f"{_fmt(bw.get('gbps_one_thread'), '.1f')} GB/s on 1 thread, {_fmt(bw.get('gbps_all_threads'), '.1f')} "
        f"on {bw.get('threads')}",
        f"- Load average {results.get('load_average_start', ['?'])[0]:.2f} at the start, "
        f"{results.get('load_average_end', ['?'])[0]:.2f} at the end (above {thr.get('usable')}: other work "
        f"shared the cores and wall times are inflated; the CPU-time ratio is the steadier figure then)",
        f"- Each configuration: {s['warmup']} warm-up run(s) after the first, then {runs}; median latency",
    ]


def latency_table(results: dict) -> list:
    lines = ["| model | threads | batch | kiln ms | ORT ms | kiln / ORT | CPU-time ratio | kiln GFLOP/s | "
             "ORT GFLOP/s | kiln % peak | ORT % peak | rel-L2 vs ORT |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in results["rows"]:
        d = derived(row, results["machine"])
        err = row.get("error")
        lines.append(
            f"| {row['model']} | {row['threads']} | {row['batch']} | {_fmt(d['kiln_ms'])} | {_fmt(d['ort_ms'])} | "
            f"{_fmt(d['ratio'])}{' (' + err + ')' if err else ''} | {_fmt(d['cpu_ratio'])} | "
            f"{_fmt(d['kiln_gflops'], '.1f')} | {_fmt(d['ort_gflops'], '.1f')} | {_fmt(d['kiln_peak'], '.0f')} | "
            f"{_fmt(d['ort_peak'], '.0f')} | {_fmt(row.get('rel_l2'), '.1e')} |")
    return lines


def _groups(results):
    keys = sorted({(r["threads"], r["batch"]) for r in results["rows"]})
    return [(t, b, [r for r in results["rows"] if (r["threads"], r["batch"]) == (t, b)]) for t, b in keys]


def geomean_table(results: dict) -> list:
    lines = ["| threads | batch | models | geomean kiln / ORT | geomean CPU-time ratio | worst | models > 1.1x |",
             "| ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for t, b, rows in _groups(results):
        ds = [(r["model"], derived(r, results["machine"])) for r in rows]
        ratios = [(m, d["ratio"]) for m, d in ds if d["ratio"]]
        worst = max(ratios, key=lambda x: x[1]) if ratios else None
        lines.append(f"| {t} | {b} | {len(ratios)} | {_fmt(geomean([r for _, r in ratios]))} | "
                     f"{_fmt(geomean([d['cpu_ratio'] for _, d in ds]))} | "
                     f"{f'{worst[0]} {worst[1]:.2f}' if worst else '–'} | {sum(r > 1.1 for _, r in ratios)} |")
    return lines


def scaling_table(results: dict) -> list:
    by = {(r["model"], r["batch"], r["threads"]): derived(r, results["machine"]) for r in results["rows"]}
    threads = sorted({r["threads"] for r in results["rows"]})
    if len(threads) < 2:
        return ["(one thread count in this run)"]
    lo, hi = threads[0], threads[-1]
    lines = [f"| model | batch | kiln {lo}→{hi} threads | ORT {lo}→{hi} threads |", "| --- | ---: | ---: | ---: |"]
    for (model, batch) in dict.fromkeys((r["model"], r["batch"]) for r in results["rows"]):
        a, b = by.get((model, batch, lo)), by.get((model, batch, hi))
        if a and b:
            lines.append(f"| {model} | {batch} | {_fmt(_ratio(a['kiln_ms'], b['kiln_ms']))}x | "
                         f"{_fmt(_ratio(a['ort_ms'], b['ort_ms']))}x |")
    return lines


def startup_table(results: dict) -> list:
    t0 = min(r["threads"] for r in results["rows"])
    lines = ["| model | batch | kiln load + first run ms | ORT create + first run ms | ratio | kiln RSS MiB | "
             "ORT RSS MiB | ratio | kiln heap allocations per run |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in (r for r in results["rows"] if r["threads"] == t0):
        d = derived(row, results["machine"])
        lines.append(f"| {row['model']} | {row['batch']} | {_fmt(d['kiln_start'], '.1f')} | "
                     f"{_fmt(d['ort_start'], '.1f')} | {_fmt(_ratio(d['kiln_start'], d['ort_start']))} | "
                     f"{_fmt(d['kiln_rss'], '.1f')} | {_fmt(d['ort_rss'], '.1f')} | "
                     f"{_fmt(_ratio(d['kiln_rss'], d['ort_rss']))} | {_fmt(d['kiln_allocs'], 'd')} |")
    return lines


def targets(results: dict) -> list:
    """Issue 8's targets, each met or missed by this run's figures."""
    rows = [(r, derived(r, results["machine"])) for r in results["rows"]]
    out = []

    def line(ok, text):
        out.append(f"- {'met' if ok else '**missed**'}: {text}")

    for t, b, group in _groups(results):
        if b != 1:
            continue
        ds = [derived(r, results["machine"]) for r in group]
        g = geomean([d["ratio"] for d in ds])
        worst = max((d["ratio"] for d in ds if d["ratio"]), default=None)
        line(g is not None and g <= 0.8, f"geomean kiln / ORT ≤ 0.8 at {t} thread(s), batch 1: {_fmt(g)}")
        line(worst is not None and worst <= 1.1, f"no model slower than 1.1x at {t} thread(s), batch 1: worst {_fmt(worst)}")
    conv = [(r, d) for r, d in rows if r.get("conv_heavy") and r["threads"] == 1 and d["kiln_peak"] is not None]
    if conv:
        low = min(conv, key=lambda x: x[1]["kiln_peak"])
        line(low[1]["kiln_peak"] >= 90, f"conv-heavy CNNs ≥ 90 % of the FMA peak at 1 thread: lowest "
             f"{low[0]['model']} batch {low[0]['batch']} at {low[1]['kiln_peak']:.0f} %")
    # 2-thread speedup of kiln on the conv and transformer models (every family but the recurrent ones).
    threads = sorted({r["threads"] for r in results["rows"]})
    if len(threads) > 1:
        by = {(r["model"], r["batch"], r["threads"]): d for r, d in rows}
        pairs = [(r["model"], r["batch"], _ratio(by[(r["model"], r["batch"], threads[0])]["kiln_ms"], d["kiln_ms"]))
                 for r, d in rows if r["threads"] == threads[-1] and r.get("family") not in ("LSTM", "GRU")
                 and (r["model"], r["batch"], threads[0]) in by]
        pairs = [p for p in pairs if p[2]]
        met = sum(p[2] >= 1.8 for p in pairs)
        low = min(pairs, key=lambda p: p[2]) if pairs else None
        line(pairs and met == len(pairs), f"{threads[0]}→{threads[-1]}-thread speedup ≥ 1.8x on the conv and "
             f"transformer models: {met} of {len(pairs)}" + (f"; lowest {low[0]} batch {low[1]} at {low[2]:.2f}x"
                                                              if low else ""))
    starts = [d for r, d in rows if d["kiln_start"] and d["ort_start"]]
    slower = sum(d["kiln_start"] > d["ort_start"] for d in starts)
    line(starts and slower == 0, f"load + first run ≤ ORT's session creation + first run: {len(starts) - slower} of "
         f"{len(starts)} configurations")
    rss = [d for r, d in rows if d["kiln_rss"] is not None and d["ort_rss"] is not None]
    bigger = sum(d["kiln_rss"] > d["ort_rss"] for d in rss)
    line(rss and bigger == 0, f"peak RSS ≤ ORT's: {len(rss) - bigger} of {len(rss)} configurations")
    return out


def render(results: dict) -> str:
    parts = ["### Machine and settings", "", *machine_section(results), "",
             "### Latency", "",
             "Median wall time per run. CPU-time ratio (1 thread only): CPU time per run, kiln / ORT, which other "
             "work on the machine does not inflate. GFLOP/s: 2 x the MACs of Conv, ConvTranspose, Gemm, MatMul, "
             "LSTM and GRU at these shapes, per CPU-second at 1 thread and per wall second at 2; % of the FMA peak "
             "(per-core peak x threads) for the conv-heavy models only.", "",
             *latency_table(results), "",
             "### Geomean of kiln / ORT", "", *geomean_table(results), "",
             "### Thread scaling (median latency at the fewest threads / at the most)", "", *scaling_table(results), "",
             "### Start-up and memory", "", *startup_table(results), "",
             "### Targets of issue 8 in this run", "", *targets(results), ""]
    return "\n".join(parts)


def update_doc(doc: pathlib.Path, markdown: str) -> None:
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc} has no {BEGIN} ... {END} block to replace")
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{markdown}\n{END}", text,
                 flags=re.S)
    doc.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=pathlib.Path)
    parser.add_argument("--update-doc", type=pathlib.Path)
    args = parser.parse_args()
    markdown = render(json.loads(args.results.read_text()))
    print(markdown)
    if args.update_doc:
        update_doc(args.update_doc, markdown)


if __name__ == "__main__":
    main()
