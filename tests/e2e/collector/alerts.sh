#!/usr/bin/env bash
# collector_alerts (#16 item 2): real-time alerts end to end against the real
# servers - TLS mosquitto, PostgreSQL, the real odo-agent replaying a
# synthetic crash drive, a local HTTP receiver that verifies each request's
# signature and fails the first attempts (alerts_tests.py says what is checked).
# Then the trip report of the crash drive (tools/trip-report, fed by the
# demo's JSON query) must plot both crash traces, complete.
#   alerts.sh COLLECTOR DEVSIM AGENT
set -euo pipefail
COLLECTOR=$1
DEVSIM=$2
AGENT=$3
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" crash-car dev-x dev-y cut-car >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export COLLECTOR DEVSIM AGENT ODO_PG_BIN _odo_pg_data
python3 "$ODO_SOURCE_DIR/tests/e2e/collector/alerts_tests.py"
source "$ODO_SOURCE_DIR/tools/demo-lib.sh"
demo_report_json crash-car nobody "$(date -u +%Y-%m)" "$ODO_TMP/report.json"
"$ODO_SOURCE_DIR/tools/trip-report" "$ODO_TMP/report.json" "$ODO_TMP/report.html"
python3 - "$ODO_TMP/report.html" <<'PY'
import re, sys
page = open(sys.argv[1]).read()
crashes = re.findall(r'<div class="crash" data-crash-t="(\d+)">(.*?)</div>', page, re.S)
assert len(crashes) == 2, "report: %d crash traces, want 2" % len(crashes)
for ct, body in crashes:
    assert "<td>24 of 24</td><td>3000</td><td>100</td>" in body, "report: trace %s incomplete" % ct
    assert body.count('<svg class="crash-trace"') == 2, "report: trace %s not plotted" % ct
    cells = re.findall(r"<td>([^<]*)</td>", body)
    print("report: crash %s: %s" % (ct, cells))
# the collision (18 km/h lost in 100 ms) measured back from its own trace
dv = float(re.findall(r"<td>([^<]*)</td>", crashes[0][1])[6])
assert 15 < dv < 21, "report: speed change %.1f km/h from the trace, the drive's 18 km/h" % dv
print("ok: the trip report plots both crash traces, complete; the collision's speed change %.1f km/h" % dv)
PY
