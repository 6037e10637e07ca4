#!/usr/bin/env bash
# roads_e2e: map matching end to end. The synthetic Monaco drives (city with a
# tunnel and a U-turn, A8 motorway beside its parallel carriageway, a drive off
# the map) as drive recordings, replayed by the real odo-agent (dense track,
# wire kind 9) through mosquitto (TLS, client certificates) into the real
# collector and PostgreSQL + PostGIS; then `odo-collector roads match` and the
# checks against the truth, and monthly_features.
#   roads_e2e.sh AGENT COLLECTOR
set -euo pipefail
trap 'echo "FAIL: $(basename "$0") stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
AGENT=$1
COLLECTOR=$2
ROOT=$ODO_SOURCE_DIR
source "$ROOT/tests/lib/servers.sh"
source "$ROOT/tools/demo-lib.sh"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" syn-city syn-moto syn-off >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
conf=$ODO_TMP/collector.conf
demo_collector_conf "$conf" roads-e2e
"$COLLECTOR" --config "$conf" migrate 2>/dev/null
"$COLLECTOR" --config "$conf" roads import "$ROOT/tests/data/osm/monaco.osm.pbf" --country FR >/dev/null 2>&1 ||
	fail "roads import"
demo_register syn-city drv-syn veh-syn-city Generic Sedan 2020 30 >/dev/null
for d in syn-moto syn-off; do
	demo_register_vehicle "$d" drv-syn "veh-$d" Generic Sedan 2020 >/dev/null
done
"$COLLECTOR" --config "$conf" run >"$ODO_TMP/collector.log" 2>&1 &
odo_track_pid $!
sleep 1
SYNTH="$ROOT/tests/e2e/roads/synth.py"
python3 "$SYNTH" plan "$ODO_TMP/drives.json"
for name in city motorway offmap; do
	dev=$(python3 -c "import json,sys; print(next(d['device'] for d in json.load(open(sys.argv[1]))['drives'] if d['name'] == sys.argv[2]))" "$ODO_TMP/drives.json" "$name")
	python3 "$SYNTH" recording "$ODO_TMP/drives.json" "$name" "$ODO_TMP/rec-$name"
	demo_agent_conf "$ODO_TMP/$name.conf" "$dev"
	sed -i 's/^\[agent\]/[agent]\ngps = false/; s/^sample_period_s = .*/sample_period_s = 10/' "$ODO_TMP/$name.conf"
	"$AGENT" --config "$ODO_TMP/$name.conf" --replay "$ODO_TMP/rec-$name" --drain-timeout 120 \
		>"$ODO_TMP/agent-$name.log" 2>&1 || { tail -n 20 "$ODO_TMP/agent-$name.log"; fail "agent replay of $name"; }
	grep -q "track" "$ODO_TMP/agent-$name.log" || true
done
"$COLLECTOR" --config "$conf" roads match 2>"$ODO_TMP/match.log" || { cat "$ODO_TMP/match.log"; fail "roads match"; }
cat "$ODO_TMP/match.log"
python3 "$SYNTH" check-e2e "$ODO_TMP/drives.json"
"$COLLECTOR" --config "$conf" aggregate --month 2026-03 2>/dev/null
row=$(odo_psql -A -t -c "SELECT speeding_rate_per_100_miles IS NOT NULL AND pct_miles_highway > 0 AND pct_miles_urban > 0
  AND max_speed_over_limit_mph > 0 FROM monthly_features WHERE driver_id = 'drv-syn' AND month = '2026-03'")
[ "$row" = t ] || fail "monthly_features road columns for drv-syn: '$row'"
echo "ok: monthly_features has speeding and road-type columns for the drives that came through the agent"
