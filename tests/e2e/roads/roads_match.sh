#!/usr/bin/env bash
# roads_match: the road layer and map matching against a real PostgreSQL +
# PostGIS, with the Monaco OpenStreetMap extract (tests/data/osm, ODbL).
#  1. `odo-collector roads import` twice (idempotent: same ways and edges),
#     maxspeed kinds, urban rule and defaults as documented;
#  2. synthetic drives with a known truth (synth.py): >= 95 % of the seconds
#     on the right way, tunnel gap unmatched, speeding episodes, highway and
#     urban miles as the truth, a drive off the map NULL with its reason;
#  3. monthly_features' road columns and the wiper proxy;
#  4. re-running after a map update (`roads match --stale`) gives the same.
#   roads_match.sh COLLECTOR
set -euo pipefail
trap 'echo "FAIL: $(basename "$0") stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
COLLECTOR=$1
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }
odo_tmpdir
odo_start_postgres
cat >"$ODO_TMP/collector.ini" <<INI
[collector]
name = roads-test
[db]
conninfo = "$ODO_PG_CONNINFO"
INI
C() { "$COLLECTOR" --config "$ODO_TMP/collector.ini" "$@"; }
q() { odo_psql -A -t -c "$1"; }
PBF=$ODO_SOURCE_DIR/tests/data/osm/monaco.osm.pbf

C migrate 2>"$ODO_TMP/migrate.log" || { cat "$ODO_TMP/migrate.log"; fail "migrate"; }
# the core schema has no PostGIS: the road layer appears only with the import
[ "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")" = 0 ] || fail "migrate installed PostGIS"
C roads status | grep -q "road layer: none" || fail "status without a road layer"

# every tag case on a hand-made extract (tests/data/osm/limits.osm, country DE):
# way class urban urban_rule kind_fwd kph_fwd kind_bwd kph_bwd
# (kind 1 tagged, 2 implicit, 3 default, 4 no limit; ways 10 footway and 11
# private service road are not drivable by cars and left out)
C roads import "$ODO_SOURCE_DIR/tests/data/osm/limits.osm" --country DE 2>"$ODO_TMP/limits.log" ||
	{ cat "$ODO_TMP/limits.log"; fail "roads import limits.osm"; }
cat >"$ODO_TMP/limits.want" <<'WANT'
1 primary f implicit 2 80 2 80
2 residential t implicit 2 50 2 50
3 motorway f none 4  4 
4 secondary f none 1 48.28 1 48.28
5 living_street f none 1 7 1 7
6 primary f none 1 50 1 70
7 tertiary f none 1 50 1 50
8 residential t area 3 50 3 50
9 unclassified f none 3 100 3 100
12 primary f none 3 100 3 100
13 motorway f none 4  4 
14 residential t implicit 1 30 1 30
15 trunk f none 3 100 3 100
16 tertiary t place 3 50 3 50
WANT
odo_psql -A -t -F ' ' -c "SELECT way_id, class, urban, urban_rule, kind_fwd, kph_fwd, kind_bwd, kph_bwd
  FROM roads.ways ORDER BY 1" >"$ODO_TMP/limits.got"
diff -u "$ODO_TMP/limits.want" "$ODO_TMP/limits.got" || fail "limits.osm: kinds, limits or urban rule differ"
[ "$(q "SELECT maxspeed_conditional_ignored FROM roads.ways WHERE way_id = 7")" = "30 @ (22:00-06:00)" ] ||
	fail "the conditional limit is not kept (as ignored)"
[ "$(q "SELECT unparsed_maxspeed FROM roads.imports ORDER BY import_id DESC LIMIT 1")" = 1 ] ||
	fail "'signals' should be counted as not understood"
ok "limits.osm: tagged (km/h, mph, walk, zone, forward/backward), implicit, none, defaults, urban rule"

C roads import "$PBF" --country FR 2>"$ODO_TMP/import1.log" || { cat "$ODO_TMP/import1.log"; fail "roads import"; }
first=$(q "SELECT count(*) || ' ' || (SELECT count(*) FROM roads.edges) || ' ' || sum(length_m)::bigint FROM roads.ways, (SELECT sum(length_m) AS length_m FROM roads.edges) e")
C roads import "$PBF" --country FR 2>"$ODO_TMP/import2.log" || { cat "$ODO_TMP/import2.log"; fail "second roads import"; }
second=$(q "SELECT count(*) || ' ' || (SELECT count(*) FROM roads.edges) || ' ' || sum(length_m)::bigint FROM roads.ways, (SELECT sum(length_m) AS length_m FROM roads.edges) e")
[ "$first" = "$second" ] || fail "import is not idempotent: '$first' then '$second'"
ok "import twice: same ways, edges and length ($second)"
[ "$(q "SELECT count(*) FROM roads.imports WHERE finished_at IS NOT NULL")" = 3 ] || fail "three finished imports recorded"
[ "$(q "SELECT count(*) FROM roads_stage.osm_ways" 2>/dev/null || echo gone)" = gone ] || fail "the stage was not dropped"
# only car-drivable ways, each with its class
bad=$(q "SELECT count(*) FROM roads.ways WHERE class NOT IN ('motorway','motorway_link','trunk','trunk_link','primary',
 'primary_link','secondary','secondary_link','tertiary','tertiary_link','unclassified','residential','living_street','service','road')")
[ "$bad" = 0 ] || fail "$bad ways that cars do not drive on"
# the extract's tagged limits (numbers) are kind 1; every motorway is tagged in it
[ "$(q "SELECT count(*) FROM roads.ways WHERE class = 'motorway' AND kind_fwd <> 1")" = 0 ] || fail "untagged motorway"
[ "$(q "SELECT count(*) FROM roads.ways WHERE maxspeed_tag = '50' AND (kind_fwd <> 1 OR kph_fwd <> 50)")" = 0 ] || fail "maxspeed=50 not 50 tagged"
# untagged ways: the FR default by zone (urban 50, rural 80, motorway 130, living street 20)
q "SELECT default_zone, min(kph_fwd), max(kph_fwd) FROM roads.ways WHERE kind_fwd = 3 GROUP BY 1 ORDER BY 1" >"$ODO_TMP/defaults"
cat "$ODO_TMP/defaults"
grep -qx "urban|50|50" "$ODO_TMP/defaults" || fail "urban default is not 50 km/h"
grep -qx "rural|80|80" "$ODO_TMP/defaults" || fail "rural default is not 80 km/h"
grep -qx "motorway|130|130" "$ODO_TMP/defaults" || fail "motorway(_link) default is not 130 km/h"
# urban rule: the principality's streets are urban, the A8 outside built-up areas rural
[ "$(q "SELECT bool_and(urban) FROM roads.ways WHERE name = 'Boulevard des Moulins'")" = t ] || fail "Boulevard des Moulins not urban"
[ "$(q "SELECT count(*) FILTER (WHERE NOT urban) > count(*) / 2 FROM roads.ways WHERE class = 'motorway'")" = t ] ||
	fail "most of the A8 should be rural"
ok "road layer as documented"

python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" plan "$ODO_TMP/drives.json"
export ODO_COLLECTOR=$COLLECTOR ODO_INI=$ODO_TMP/collector.ini # synth.py registers with the operator commands
python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" load "$ODO_TMP/drives.json"
C roads match 2>"$ODO_TMP/match.log" || { cat "$ODO_TMP/match.log"; fail "roads match"; }
grep -q "3 trip(s) matched" "$ODO_TMP/match.log" || { cat "$ODO_TMP/match.log"; fail "3 trips should be matched"; }
C roads match 2>"$ODO_TMP/match2.log"
grep -q "0 trip(s) matched" "$ODO_TMP/match2.log" || { cat "$ODO_TMP/match2.log"; fail "a second run re-matched"; }
python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" check "$ODO_TMP/drives.json"

# a map update: re-import, the results are stale; --stale re-matches them, same outcome
snap() { q "SELECT trip_id, covered, speeding_episodes, round(highway_m), round(urban_m), matched_points FROM trip_roads ORDER BY 1"; }
before=$(snap)
C roads import "$PBF" --country FR 2>/dev/null >/dev/null
C roads match --stale 2>"$ODO_TMP/match3.log"
grep -q "3 trip(s) matched" "$ODO_TMP/match3.log" || { cat "$ODO_TMP/match3.log"; fail "--stale after an import"; }
[ "$(snap)" = "$before" ] || fail "re-matching after the update changed the results"
[ "$(q "SELECT count(DISTINCT import_id) FROM trip_roads WHERE import_id IS NOT NULL")" = 1 ] || fail "import ids"
ok "map update: --stale re-matched every trip, same results"
# a trip whose track months were archived (its track rows gone) keeps the
# result matched from its track at the next map update: never "no track"
gone=$(q "SELECT trip_id FROM trip_roads WHERE covered ORDER BY trip_id LIMIT 1")
[ -n "$gone" ] || fail "no covered trip to archive"
q "DELETE FROM tracks k USING trips t WHERE t.trip_id = '$gone' AND k.device_id = t.device_id
   AND k.epoch = t.epoch AND k.device_trip_id = t.device_trip_id" >/dev/null
C roads import "$PBF" --country FR 2>/dev/null >/dev/null
C roads match --stale 2>"$ODO_TMP/match4.log"
grep -q "2 trip(s) matched" "$ODO_TMP/match4.log" || { cat "$ODO_TMP/match4.log"; fail "--stale with an archived track"; }
grep -q "1 trip(s) kept their earlier result: trip $gone: its track is no longer in the database" "$ODO_TMP/match4.log" ||
	{ cat "$ODO_TMP/match4.log"; fail "the kept trip is not reported"; }
[ "$(snap)" = "$before" ] || fail "--stale with an archived track changed the results"
C roads match --trip "$gone" 2>"$ODO_TMP/match5.log"
grep -q "kept their earlier result" "$ODO_TMP/match5.log" || { cat "$ODO_TMP/match5.log"; fail "match --trip of an archived track"; }
[ "$(snap)" = "$before" ] || fail "match --trip with an archived track changed the results"
ok "archived track: --stale and --trip keep the result matched from it (was: replaced by 'no track')"
# the worker: `roads follow` matches trips as they arrive, survives a database
# restart, and stops on SIGTERM
cat >>"$ODO_TMP/collector.ini" <<INI
[roads]
poll_s = 0.5
INI
"$COLLECTOR" --config "$ODO_TMP/collector.ini" roads follow 2>"$ODO_TMP/follow.log" &
fpid=$!
odo_track_pid "$fpid"
wait_matched() { # DEVICE
	local i
	for i in $(seq 1 120); do
		[ "$(q "SELECT count(*) FROM trip_roads r JOIN trips t USING (trip_id) WHERE t.device_id = '$1'")" = 1 ] && return 0
		sleep 0.5
	done
	cat "$ODO_TMP/follow.log"
	fail "roads follow did not match the trip of $1"
}
python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" load "$ODO_TMP/drives.json" 1
wait_matched syn-city-1
odo_pg_stop
sleep 2
odo_pg_start
python3 "$ODO_SOURCE_DIR/tests/e2e/roads/synth.py" load "$ODO_TMP/drives.json" 2
wait_matched syn-city-2
kill -TERM "$fpid"
wait "$fpid" || fail "roads follow exited $? on SIGTERM"
grep -q "reconnecting" "$ODO_TMP/follow.log" || { cat "$ODO_TMP/follow.log"; fail "follow did not notice the restart"; }
ok "roads follow: matched new trips as they came, across a database restart; stopped on SIGTERM"

# erasure: forget removes the matched points with the trips
q "SELECT count(*) FROM trip_match_points" | grep -qv '^0$' || fail "no matched points"
C forget --driver drv-syn 2>/dev/null
[ "$(q "SELECT count(*) FROM trip_match_points") $(q "SELECT count(*) FROM trip_roads") $(q "SELECT count(*) FROM speeding_episodes")" = "0 0 0" ] ||
	fail "forget left matched points, trip_roads or episodes"
ok "forget erases the matched track and its features"
