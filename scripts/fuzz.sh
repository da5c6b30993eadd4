#!/usr/bin/env bash
# Builds the libFuzzer harness (clang, ASan, UBSan) and fuzzes the model reader, graph building, validation,
# shape inference and small runs for SECONDS (default 60). The committed seed corpus (fuzz/corpus) is read-only
# here; new inputs go to build-fuzz/corpus. Crashes land in build-fuzz/crashes and fail the run: fix them and
# keep the input in fuzz/regressions/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
mkdir -p build-fuzz/corpus build-fuzz/crashes
# Regressions first: each must run clean.
if compgen -G "fuzz/regressions/*" >/dev/null; then
  build-fuzz/fuzz_model -runs=0 fuzz/regressions/* 2>&1 | tail -n 2
fi
# A fixed seed makes the mutation sequence repeatable, so a CI failure can be replayed here.
build-fuzz/fuzz_model build-fuzz/corpus fuzz/corpus -seed="${KILN_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 \
  -max_len=65536 -artifact_prefix=build-fuzz/crashes/ -print_final_stats=1 2>&1 | tail -n 12
