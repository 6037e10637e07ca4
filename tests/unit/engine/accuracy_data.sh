#!/bin/bash
# Runs odo-accuracy on the shared Driver Behavior Dataset and checks that it
# completes and reports every event kind (no score threshold: see
# docs/accuracy.md for the numbers and why they are not asserted).
set -euo pipefail
tool=$1 dir=$2
out=$("$tool" "$dir")
echo "$out"
for k in hard_brake rapid_accel corner_right corner_left swerve; do
  grep -Eq "^\| $k \| [0-9]+ \| [0-9]+ \| ([0-9.]+|nan) \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| ([0-9.]+|nan) \|$" <<<"$out" \
    || { echo "FAIL: no score row for $k" >&2; exit 1; }
done
grep -q "^| non_aggressive" <<<"$out" || { echo "FAIL: no negatives row" >&2; exit 1; }
echo "accuracy table complete"
