#!/bin/bash
# Runs odo-accuracy on the shared Driver Behavior Dataset, checks that it
# reports every event kind, and that docs/accuracy.md shows exactly the
# table it prints (so the documented numbers are the tool's, today). The
# test asserts no score of its own: a threshold fitted to two files would
# only encourage tuning to them (docs/accuracy.md).
set -euo pipefail
tool=$1 dir=$2 doc=$3
out=$("$tool" "$dir")
echo "$out"
for k in hard_brake rapid_accel corner_right corner_left swerve; do
  grep -Eq "^\| $k \| [0-9]+ \| [0-9]+ \| ([0-9.]+|nan) \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| ([0-9.]+|nan) \|$" <<<"$out" \
    || { echo "FAIL: no score row for $k" >&2; exit 1; }
done
grep -q "^| non_aggressive" <<<"$out" || { echo "FAIL: no negatives row" >&2; exit 1; }
fail=0
while IFS= read -r row; do
  grep -qxF -- "$row" "$doc" || { echo "FAIL: $doc lacks this row of the tool's table: $row" >&2; fail=1; }
done < <(grep '^|' <<<"$out")
[ $fail = 0 ] || { echo "update the table in $doc (command at its top)" >&2; exit 1; }
echo "accuracy table complete and documented"
