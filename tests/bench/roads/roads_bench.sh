#!/usr/bin/env bash
# Two measurements (docs/benchmarks.md "Map matching", "Dense track"):
# 1. map-matching cost per trip-hour: the synthetic Monaco drives
#    (tests/e2e/roads/synth.py) COPIES times, matched by `odo-collector roads
#    match`, beside the baseline of snapping every fix to its nearest road with
#    one PostGIS query, on the same fixes in the same run;
# 2. uplink bytes per driven hour of the dense track (1 Hz, wire kind 9) beside
#    the 10 s samples of the same replays: the real odo-agent replays the Monaco
#    drives and the bundled recordings with --emit.
#   roads_bench.sh matching|uplink COLLECTOR AGENT [COPIES] [OUT.md]
set -euo pipefail
MODE=$1
COLLECTOR=$2
AGENT=$3
COPIES=${4:-5}
OUT=${5:-${ODO_BINARY_DIR:-.}/roads-bench-$MODE.md}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
odo_start_postgres
cat >"$ODO_TMP/collector.ini" <<INI
[collector]
name = roads-bench
[db]
conninfo = "$ODO_PG_CONNINFO"
INI
"$COLLECTOR" --config "$ODO_TMP/collector.ini" migrate 2>/dev/null
"$COLLECTOR" --config "$ODO_TMP/collector.ini" roads import "$ODO_SOURCE_DIR/tests/data/osm/monaco.osm.pbf" --country FR >/dev/null 2>&1
export ODO_COLLECTOR=$COLLECTOR ODO_INI=$ODO_TMP/collector.ini
python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" plan "$ODO_TMP/drives.json" >/dev/null
if [ "$MODE" = matching ]; then
	python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" load "$ODO_TMP/drives.json"
	python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" bench "$ODO_TMP/drives.json" "$COPIES" "$OUT"
	echo "written to $OUT"
	exit 0
fi

emits=()
replay() { # LABEL DIR
	mkdir -p "$ODO_TMP/agent-$1"
	cat >"$ODO_TMP/agent-$1/agent.conf" <<CONF
[agent]
device_id = bench-$1
state_dir = $ODO_TMP/agent-$1/state
accel = false
phone = false
[store]
path = $ODO_TMP/agent-$1/outbox.db
CONF
	"$AGENT" -c "$ODO_TMP/agent-$1/agent.conf" --replay "$2" --no-uplink --emit "$ODO_TMP/agent-$1/emit" 		2>"$ODO_TMP/agent-$1/log" || { cat "$ODO_TMP/agent-$1/log"; exit 1; }
	emits+=("$1=$ODO_TMP/agent-$1/emit")
}
for name in city motorway; do
	python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" recording "$ODO_TMP/drives.json" "$name" "$ODO_TMP/rec-$name"
	replay "monaco-$name" "$ODO_TMP/rec-$name"
done
replay rav4-i280 "$ODO_SOURCE_DIR/tests/data/drives/rav4-i280"
replay synthetic-1 "$ODO_SOURCE_DIR/tests/data/drives/synthetic-1"
python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" uplink "$OUT" "${emits[@]}"
echo "written to $OUT"
