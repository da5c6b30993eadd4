#!/usr/bin/env python3
"""CLI tests of kiln's measuring tools: `kiln bench`, `kiln info`, `--threads`, and `kiln optimize
--disable-pass`. No speed is asserted.

    python run_tool_tests.py --kiln PATH --source REPO

`kiln bench --json` must carry every key the README's "kiln bench --json" table documents, with figures
that relate as they must (min <= median <= p90 <= p99 <= max, peak intermediates >= arena, ...), and with
--profile, per-op-type and per-node shares that sum to 100 %. Exit status 0 when every check passes.
"""
import argparse
import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

FAILURES = []


def check(ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        FAILURES.append(what)


def run(cmd, env=None, expect_ok=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if expect_ok and proc.returncode != 0:
        check(False, f"{' '.join(map(str, cmd))} exited {proc.returncode}: {proc.stderr.strip()[:500]}")
    return proc


def documented_bench_keys(readme: pathlib.Path) -> list:
    """Keys in the first column of the README's `kiln bench --json` table ("a.b" = nested, "a, b" = two)."""
    text = readme.read_text()
    section = text.split("### `kiln bench --json`", 1)[1].split("\n### ", 1)[0]
    keys = []
    for line in section.splitlines():
        m = re.match(r"\|\s*(`[^|]*`)\s*\|", line)
        if m:
            keys += re.findall(r"`([^`]+)`", m.group(1))
    return keys


def lookup(obj, dotted: str):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            raise KeyError(dotted)
        obj = obj[part]
    return obj


def check_shares(rows, what: str) -> None:
    total = sum(r["share"] for r in rows)
    check(abs(total - 100.0) < 0.5, f"{what}: shares sum to {total:.3f} %")
    shares = [r["share"] for r in rows]
    check(shares == sorted(shares, reverse=True), f"{what}: sorted by share, largest first")


def test_bench(kiln: str, model: str, readme: pathlib.Path) -> None:
    # One thread: with a pool, a thread's kernel scratch may grow the first time it takes a bigger task, in any run.
    proc = run([kiln, "bench", model, "--shape", "input=1x1x24x20", "--runs", "3", "--warmup", "1", "--threads", "1",
                "--json", "--profile"])
    if proc.returncode != 0:
        return
    check(proc.stderr == "", "bench, piped: nothing on stderr (no progress line)")
    report = json.loads(proc.stdout)
    keys = documented_bench_keys(readme)
    check(len(keys) >= 15, f"README documents {len(keys)} bench keys")
    for key in keys:
        try:
            lookup(report, key)
            check(True, f"bench JSON has '{key}'")
        except KeyError:
            check(False, f"bench JSON has '{key}' (documented in README.md)")
    documented_top = {k.split(".")[0] for k in keys}
    extra = set(report) - documented_top
    check(not extra, f"every top-level bench key is documented (undocumented: {sorted(extra)})")

    lat = report["latency_ms"]
    check(report["runs"] == 3 and report["warmup"] == 1, "runs and warmup as asked")
    check(0 < lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"] <= lat["max"],
          f"0 < min <= median <= p90 <= p99 <= max: {lat}")
    check(lat["min"] <= lat["mean"] <= lat["max"] and lat["stddev"] >= 0, "min <= mean <= max, stddev >= 0")
    check(report["load_ms"] > 0 and report["first_run_ms"] > 0, "load and first-run times are positive")
    check(report["throughput_per_s"] > 0, "throughput is positive")
    check(report["cpu_ms"]["median"] >= 0, "CPU time per run is not negative")
    # The model's 8 nodes run as 5 steps: the graph passes fuse each Conv + Relu into one FusedConv.
    check(report["threads"] == 1 and report["steps"] == 5, "1 thread as asked; 5 steps (8 nodes, 3 Conv+Relu fused)")
    mem = report["memory"]
    check(mem["peak_intermediate_bytes"] == mem["arena_bytes"] + mem["dynamic_peak_bytes"],
          "peak intermediates = arena + dynamic peak")
    check(mem["peak_rss_bytes"] >= mem["rss_at_start_bytes"] > 0, "peak RSS >= RSS at start > 0")
    check(report["inputs"] == [{"name": "input", "dtype": report["inputs"][0]["dtype"], "shape": [1, 1, 24, 20],
                                "source": "random"}], "inputs: the random input at the --shape size")
    allocs = report["allocations_per_run"]
    # Timed runs go through a Binding: a fixed-shape model's steady state allocates nothing (issue 8, item 7).
    check(allocs is None or (allocs["max_calls"] == allocs["calls"] == 0 and allocs["bytes"] == 0),
          f"no heap allocation in any timed run (or null where it cannot be counted): {allocs}")

    prof = report["profile"]
    check(prof["runs"] >= 1 and prof["total_ms"] > 0, "profile: runs and total time")
    check(len(prof["nodes"]) == report["steps"], "profile: one row per executed node")
    check(sum(t["nodes"] for t in prof["op_types"]) == len(prof["nodes"]), "profile: op types cover every node")
    check({t["op_type"] for t in prof["op_types"]} == {"ai.kiln.FusedConv", "Conv", "DepthToSpace"},
          "profile: the op types (after fusion)")
    check_shares(prof["op_types"], "profile op types")
    check_shares(prof["nodes"], "profile nodes")
    check(math.isclose(sum(n["ms"] for n in prof["nodes"]), prof["total_ms"], rel_tol=1e-6),
          "profile: node times add up to the total")


def test_bench_options(kiln: str, model: str) -> None:
    base = [kiln, "bench", model, "--shape", "input=1x1x16x16", "--json"]
    two = run(base + ["--runs", "2", "--threads", "2"])
    if two.returncode == 0:
        check(json.loads(two.stdout)["threads"] == 2, "--threads 2: the session reports 2 threads")
    timed = run(base + ["--seconds", "0.2", "--warmup", "0"])
    if timed.returncode == 0:
        check(json.loads(timed.stdout)["runs"] >= 1, "--seconds: at least one timed run")
    both = run(base + ["--runs", "2", "--seconds", "1"], expect_ok=False)
    check(both.returncode != 0 and "excludes" in both.stderr, "--runs and --seconds together are refused")
    text = run([kiln, "bench", model, "--shape", "input=1x1x16x16", "--runs", "2", "--profile"])
    check(text.returncode == 0 and "latency" in text.stdout and "share" in text.stdout,
          "text report with the profile tables")
    med = run(base + ["--runs", "3", "--profile", "--profile-median"])
    if med.returncode == 0:
        mp = json.loads(med.stdout)["profile"]
        check(mp["median"] is True and mp["runs"] == 3, "--profile-median: medians over as many runs as timed")
        check(math.isclose(sum(n["ms"] for n in mp["nodes"]), mp["total_ms"], rel_tol=1e-6),
              "--profile-median: node medians add up to the total")
    missing = run([kiln, "bench", model, "--runs", "1"], expect_ok=False)
    check(missing.returncode != 0 and "--shape input=" in missing.stderr,
          "a symbolic input without --shape: the error names --shape")


def test_info(kiln: str) -> None:
    proc = run([kiln, "info", "--json"])
    if proc.returncode != 0:
        return
    info = json.loads(proc.stdout)
    for key in ("cpu", "isa", "threads", "caches", "load_average"):
        check(key in info, f"info JSON has '{key}'")
    t = info["threads"]
    check(1 <= t["usable"] <= t["affinity"] <= t["online"] and t["session_default"] == t["usable"],
          f"1 <= usable <= affinity <= online: {t}")
    check(info["isa"]["active"] in ("ref", "avx2", "avx512"), "an ISA tier kiln knows")
    check("measured" not in info, "no measurement without --measure")
    env = dict(os.environ, KILN_ISA="ref")
    ref = run([kiln, "info", "--json"], env=env)
    if ref.returncode == 0:
        isa = json.loads(ref.stdout)["isa"]
        check(isa["active"] == "ref" and isa["kiln_isa_env"] == "ref", "KILN_ISA=ref: active tier ref")
    measured = run([kiln, "info", "--json", "--measure"])
    if measured.returncode == 0:
        m = json.loads(measured.stdout)["measured"]
        fma, bw = m["fma_peak"], m["memory_bandwidth"]
        check(fma["gflops_per_core"] > 0 and fma["gflops_all_threads"] > 0, "FMA peak figures are positive")
        check(bw["gbps_one_thread"] > 0 and bw["gbps_all_threads"] > 0 and bw["buffer_bytes"] >= 256 << 20,
              "bandwidth figures are positive, over at least 256 MiB")
    text = run([kiln, "info"])
    check(text.returncode == 0 and "isa" in text.stdout and "threads" in text.stdout, "text report")


def test_run_threads(kiln: str, model: str, out: pathlib.Path) -> None:
    proc = run([kiln, "run", model, "--shape", "input=2x1x16x16", "--threads", "2", "-o", str(out)])
    check(proc.returncode == 0 and (out / "output.npy").is_file(), "kiln run --threads 2 writes its output")


def test_optimize_disable_pass(kiln: str, model: str, out: pathlib.Path) -> None:
    """`kiln optimize --disable-pass NAME` (repeatable) switches passes off; an unknown name is refused with the
    list of known ones; --verbose lists every pass that ran."""
    def optimize(*extra):
        proc = run([kiln, "optimize", model, "--level", "2", "--json", *extra])
        return json.loads(proc.stdout) if proc.returncode == 0 else None
    every = optimize()
    check(every is not None and every["nodes_after"] < every["nodes_before"], "kiln optimize --level 2 fuses")
    off = optimize("--disable-pass", "fuse_conv", "--disable-pass", "eliminate_dead_nodes")
    if every and off:
        ran = {p["name"] for p in off["passes"]}
        check("fuse_conv" not in ran and "eliminate_dead_nodes" not in ran and "fold_constants" in ran,
              "--disable-pass (twice) leaves those passes out of the run and only those")
        check(off["nodes_after"] == off["nodes_before"], "without fuse_conv nothing is fused in super_resolution")
    bad = run([kiln, "optimize", model, "--disable-pass", "fuse_convv"], expect_ok=False)
    check(bad.returncode != 0 and "fuse_convv" in bad.stderr and "fuse_conv," in bad.stderr
          and "eliminate_common_subexpressions" in bad.stderr,
          "an unknown pass name is refused, naming it and listing the known passes")
    verbose = run([kiln, "optimize", model, "-o", str(out / "optimized.onnx"), "--verbose", "--disable-pass",
                   "remove_no_ops"])
    listed = [line.split()[0] for line in verbose.stdout.splitlines()[1:]
              if line and not line.startswith(("nodes", "ops", "wrote"))]
    check("fold_constants" in listed and "remove_no_ops" not in listed and (out / "optimized.onnx").is_file(),
          "--verbose lists the passes that ran, and -o writes the model")
    refused = run([kiln, "run", model, "--shape", "input=1x1x16x16", "-o", str(out), "--disable-pass", "no_such_pass"],
                  expect_ok=False)
    check(refused.returncode != 0 and "remove_identity" in refused.stderr, "kiln run refuses an unknown pass name too")


def test_build_engine(kiln: str, model: str, out: pathlib.Path) -> None:
    """`kiln build` (issue 9): the summary, the engine through run/bench/inspect, a shape outside the profile refused
    with the rebuild flags, a damaged engine refused with the reason, and --verbose listing the passes."""
    out.mkdir(parents=True, exist_ok=True)
    engine = out / "sr.kiln"
    proc = run([kiln, "build", model, "-o", str(engine), "--min", "input=1x1x16x16", "--opt", "input=2x1x16x24",
                "--max", "input=8x1x32x32", "--runs", "2", "--threads", "1", "--verbose", "--disable-pass",
                "fuse_conv"])
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    check(all(k in lines for k in ("profile", "nodes", "engine", "build", "load", "latency", "kernels")),
          "kiln build prints profile, nodes, engine, build, load, latency and kernels")
    check(re.search(r"kernels  \d+ nodes run, 0 on reference kernels", proc.stdout) is not None and
          re.search(r"%  \S+ \(Conv\): conv 3x3", proc.stdout) is not None,
          f"kiln build names the kernels of the heaviest nodes (the super-resolution convolutions, none on a "
          f"reference kernel): {lines.get('kernels', '')}")
    check("fold_constants" in proc.stdout and "fuse_conv " not in proc.stdout, "kiln build --verbose lists the passes, "
          "without the one switched off")
    ran = run([kiln, "run", str(engine), "--shape", "input=8x1x20x32", "-o", str(out / "run")])
    check((out / "run" / "output.npy").is_file(), "kiln run on an engine writes the outputs")
    outside = run([kiln, "run", str(engine), "--shape", "input=9x1x16x16", "-o", str(out / "run")], expect_ok=False)
    check(outside.returncode != 0 and "dim 0 is 9" in outside.stderr and "--max input=9x1x32x32" in outside.stderr,
          f"a shape outside the profile is refused with the rebuild flags: {outside.stderr.strip()[:300]}")
    bench = run([kiln, "bench", str(engine), "--runs", "1", "--warmup", "0", "--json"])
    if bench.returncode == 0:
        check(json.loads(bench.stdout)["load_ms"] > 0, "kiln bench on an engine reports its load time")
    info = run([kiln, "inspect", str(engine), "--json"])
    if info.returncode == 0:
        facts = json.loads(info.stdout).get("engine", {})
        kinds = [s.get("kind") for s in facts.get("sections", [])]
        check(facts.get("format_version") == 3 and len(facts.get("tactics", [])) > 0 and facts.get("profiles", [[{}]])[0][0].get("max") == [8, 1, 32, 32]
              and facts.get("disabled_passes") == ["fuse_conv"] and "packed weights" in kinds and "packed data" in kinds,
              f"kiln inspect --json shows the engine, its packed weights and tactics included: {facts}")
    checked = run([kiln, "check", str(engine)], expect_ok=False)
    check(checked.returncode != 0 and "kiln engine" in checked.stdout + checked.stderr,
          "kiln check on an engine says it is an engine and to check the model it was built from")
    two = out / "two.kiln"
    run([kiln, "build", model, "-o", str(two), "--min", "input=1x1x16x16", "--max", "input=2x1x16x16", "--profile",
         "--min", "input=6x1x16x16", "--max", "input=8x1x16x16", "--runs", "1"])
    fits = run([kiln, "run", str(two), "--shape", "input=7x1x16x16", "-o", str(out / "run")], expect_ok=False)
    between = run([kiln, "run", str(two), "--shape", "input=4x1x16x16", "-o", str(out / "run")], expect_ok=False)
    check(fits.returncode == 0 and between.returncode != 0 and "profile 1:" in between.stderr
          and "--profile --min input=6x1x16x16" in between.stderr,
          f"--profile builds a second profile; a size between them is refused: {between.stderr.strip()[:300]}")
    # Tactics: timed at the opt shape and counted in the summary; with --timing-cache a rebuild times nothing and
    # chooses the same; a damaged cache is ignored with a warning naming it.
    cache = out / "sr.timings"
    tactic_pattern = r"tactics  (\d+) nodes timed at the opt shape \((\d+) from the timing cache, (\d+) timings measured\)"
    choice_pattern = r"(?m)^ {9}(\S+) \(([\w.]+)\): (\S+)"
    builds = [run([kiln, "build", model, "-o", str(out / f"cached{i}.kiln"), "--min", "input=1x1x16x16", "--opt",
                   "input=2x1x16x24", "--max", "input=8x1x32x32", "--runs", "1", "--threads", "1", "--tactic-runs", "1",
                   "--timing-cache", str(cache), "--verbose"]) for i in range(2)]
    first, second = (re.search(tactic_pattern, b.stdout) for b in builds)
    check(first is not None and second is not None and int(first[1]) > 0 and first[2] == "0" and int(first[3]) > 0
          and second[1] == first[1] and second[2] == first[1] and second[3] == "0"
          and re.findall(choice_pattern, builds[0].stdout) == re.findall(choice_pattern, builds[1].stdout),
          f"kiln build times tactics, and a rebuild with --timing-cache times none and chooses the same: "
          f"{first and first[0]} / {second and second[0]}")
    cache.write_bytes(b"not a timing cache")
    spoiled = run([kiln, "build", model, "-o", str(out / "cached2.kiln"), "--opt", "input=1x1x16x16", "--runs", "1",
                   "--tactic-runs", "1", "--timing-cache", str(cache)], expect_ok=False)
    check(spoiled.returncode == 0 and "warning" in spoiled.stderr and str(cache) in spoiled.stderr,
          f"a damaged timing cache is ignored with a warning naming it: {spoiled.stderr.strip()[:300]}")
    damaged = out / "damaged.kiln"
    damaged.write_bytes(engine.read_bytes()[:-1] + bytes([engine.read_bytes()[-1] ^ 1]))
    refused = run([kiln, "run", str(damaged), "-o", str(out / "run")], expect_ok=False)
    check(refused.returncode != 0 and "checksum" in refused.stderr,
          f"a damaged engine is refused naming the checksum: {refused.stderr.strip()[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--source", required=True, type=pathlib.Path, help="the repository (README, models/)")
    args = parser.parse_args()
    model = str(args.source / "models" / "super_resolution.onnx")
    test_bench(args.kiln, model, args.source / "README.md")
    test_bench_options(args.kiln, model)
    test_info(args.kiln)
    out = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"kiln-tools-test-{os.getpid()}"
    try:
        test_run_threads(args.kiln, model, out)
        test_optimize_disable_pass(args.kiln, model, out)
        test_build_engine(args.kiln, model, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\n{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
