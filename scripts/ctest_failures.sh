#!/usr/bin/env bash
# After a failed ctest run: the end of each failed test's output, again, as the very last thing printed. ctest
# prints a test's output when it fails, but then the list of skipped tests follows, and a CI log that keeps only
# its beginning and end would cut exactly the part that says what went wrong.
#
#   scripts/ctest_failures.sh [BUILD_DIR] [LINES]
set -uo pipefail
build=${1:-build}
lines=${2:-40}
log=$build/Testing/Temporary/LastTest.log
failed=$build/Testing/Temporary/LastTestsFailed.log
[ -f "$failed" ] && [ -f "$log" ] || exit 0
while IFS=: read -r _ name; do
  echo "==== the end of $name's output (all of it: $log)"
  awk -v t="$name" '
    $0 ~ "^[0-9]+/[0-9]+ Test: " t "$" { mine = 1; next }
    mine && /^Output:/ { getline; out = 1; next }
    mine && out && /^<end of output>/ { exit }
    mine && out { print }
  ' "$log" | tail -n "$lines"
done <"$failed"
echo "==== failed: $(cut -d: -f2 "$failed" | paste -sd ' ')"
