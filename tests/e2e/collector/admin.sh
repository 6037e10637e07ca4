#!/usr/bin/env bash
# collector_admin (#17, item 1): the operator commands against a real
# PostgreSQL, with data from the real odo-agent through a TLS mosquitto and
# the real collector.
#
#  * the rules `device --help` prints are the ones docs/collector.md shows
#    (and so are the driver fields);
#  * bad values, unknown rows and broken rules are refused with an error
#    naming the argument, exit 2 (usage) or 1 (refused), and change nothing;
#  * a device that drove before it was registered: `device assign --from`
#    in the past gives the stored trip to the driver, aggregation counts it;
#  * a late handover ends the old window and moves the trips from then on to
#    the new driver (the old driver's emptied month loses its feature rows);
#    the next drive is the driver's at ingest; windows never overlap;
#  * a late unassign leaves the trips from then on without a driver;
#  * device list: per outbox epoch the acked seq, last seen and the backlog of
#    the latest status record, equal to what the database holds; "never" for a
#    registered device that never sent.
# Usage: admin.sh ODO_COLLECTOR ODO_AGENT
set -euo pipefail
COLLECTOR=${1:?usage: admin.sh ODO_COLLECTOR ODO_AGENT}
AGENT=${2:?usage: admin.sh ODO_COLLECTOR ODO_AGENT}
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
DOCBLOCK="python3 $ODO_SOURCE_DIR/tests/lib/docblock.py"
DEV=car-1

odo_tmpdir
T=$ODO_TMP
odo_pki_init "$T/pki" "$DEV" car-2 >/dev/null
odo_start_mosquitto "$T/pki"
odo_start_postgres
write_ini "$T/c1.ini" c1 c1
"$COLLECTOR" --config "$T/c1.ini" migrate 2>/dev/null

oc() { "$COLLECTOR" --config "$T/c1.ini" "$@"; }

# accepted CMD...: exit 0; prints its output
accepted() {
	local out
	out=$(oc "$@" 2>&1) || fail "odo-collector $* was refused: $out"
	printf '%s\n' "$out"
}
# refused EXIT PATTERN CMD...: exits EXIT, the error matches PATTERN (grep -E)
refused() {
	local want=$1 pat=$2 rc=0 out
	shift 2
	out=$(oc "$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "odo-collector $*: exit $rc, want $want ($out)"
	grep -qE -- "$pat" <<<"$out" || fail "odo-collector $*: error does not say /$pat/: $out"
	printf 'ok: refused (%s): %s\n' "$rc" "$(grep -E -- "$pat" <<<"$out" | head -n 1 | sed 's/^odo-collector\[[0-9]*\]: //')"
}
state() { q "SELECT md5(coalesce(string_agg(a::text, ';' ORDER BY id), '')) FROM device_assignments a" &&
	q "SELECT md5(coalesce(string_agg(d::text, ';' ORDER BY driver_id), '')) FROM (SELECT driver_id, persona_type,
	   driver_age, years_licensed, vehicle_age, policy_start_date FROM drivers) d" &&
	q "SELECT md5(coalesce(string_agg(t.trip_id || '=' || coalesce(t.driver_id, '-'), ';' ORDER BY t.trip_id), '')) FROM trips t"; }

echo "== the rules in --help are the documented ones"
diff <(oc device --help) <($DOCBLOCK "$ODO_SOURCE_DIR/docs/collector.md" device-help) ||
	fail "odo-collector device --help differs from docs/collector.md (block device-help)"
diff <(oc driver --help) <($DOCBLOCK "$ODO_SOURCE_DIR/docs/collector.md" driver-help) ||
	fail "odo-collector driver --help differs from docs/collector.md (block driver-help)"
oc --help | grep "device add|assign|unassign|list" >/dev/null || fail "odo-collector --help does not list the device commands"
echo "ok: device --help and driver --help equal the documentation"

echo "== registration"
accepted driver add d1 --age 41 --years-licensed 20 --persona commuter --policy-start 2017-01-01 --data-source policy-db
accepted driver add d2 --age 29
accepted vehicle add v1 --vin JTMBFREV7HJ123456 --make Toyota --model RAV4 --year 2017
accepted device add "$DEV"
accepted device add car-2
expect_eq "driver d1" "$(q "SELECT driver_age || ' ' || years_licensed || ' ' || persona_type || ' ' || policy_start_date || ' ' || data_source FROM drivers WHERE driver_id = 'd1'")" \
	"41 20 commuter 2017-01-01 policy-db"
expect_eq "vehicle v1" "$(q "SELECT vin || ' ' || make || ' ' || model || ' ' || model_year FROM vehicles")" "JTMBFREV7HJ123456 Toyota RAV4 2017"
out=$(accepted device add "$DEV")
grep -q "registered already" <<<"$out" || fail "a second device add does not say the device is known: $out"
accepted driver set d2 --persona night-owl --years-licensed 5
accepted driver set d2 --persona ''
expect_eq "driver d2 after set" "$(q "SELECT coalesce(persona_type, 'NULL') || ' ' || years_licensed FROM drivers WHERE driver_id = 'd2'")" "NULL 5"

echo "== refusals change nothing"
before=$(state)
refused 2 "--age: '13' is not a whole number from 14 to 120" driver add d3 --age 13
refused 2 "--years-licensed 30 is more than --age 41 minus 14" driver set d1 --years-licensed 30
refused 2 "--policy-start: '2025-02-29' is not a date" driver add d3 --policy-start 2025-02-29
refused 2 "unknown field --vin" driver add d3 --vin JTMBFREV7HJ123456
refused 2 "driver id 'd 3'" driver add "d 3"
refused 1 "driver d1 exists already" driver add d1 --age 50
refused 1 "no driver d9; add it with" driver set d9 --age 50
refused 2 "--vin: 'JTMBFREV7HJ12345I' is not a VIN" vehicle add v2 --vin JTMBFREV7HJ12345I
refused 2 "reserved for collectors" device add odo-collector-9
refused 2 "device id 'car/9'" device add car/9
refused 1 "no device car-9; register it with" device assign car-9 --driver d1 --from 2018-01-01
refused 1 "no driver d9; add it with" device assign "$DEV" --driver d9 --from 2018-01-01
refused 1 "no vehicle v9; add it with" device assign "$DEV" --driver d1 --vehicle v9 --from 2018-01-01
refused 2 "give the time zone" device assign "$DEV" --driver d1 --from 2018-01-01T08:00
refused 2 "is not a time" device assign "$DEV" --driver d1 --from yesterday
refused 2 "give --driver, --vehicle or both" device assign "$DEV" --from 2018-01-01
refused 1 "has no open assignment: nothing to end" device unassign "$DEV"
expect_eq "nothing changed by the refusals" "$(state)" "$before"

odo_agent_conf "$T" "$DEV" "$T/outbox.db" $'status_period_s = 10\n'
replay() {
	"$AGENT" -c "$T/agent.conf" --replay "$ODO_SOURCE_DIR/tests/data/drives/$1" --drain-timeout 60 2>>"$T/agent.stderr" ||
		{ tail -20 "$T/agent.log" >&2; fail "the $1 replay was not acknowledged"; }
}
start_collector c1 collector-c1

echo "== a device that drove before it was assigned"
replay rav4-i280
rav4=$(q "SELECT trip_id FROM trips WHERE device_id = '$DEV'")
[ -n "$rav4" ] || fail "no trip stored for the RAV4 drive"
expect_eq "the unassigned drive's trip has no driver" "$(q "SELECT coalesce(driver_id, 'none') FROM trips WHERE trip_id = '$rav4'")" none
out=$(accepted device assign "$DEV" --driver d1 --vehicle v1 --from 2018-01-01)
printf '%s\n' "$out"
grep -q "1 stored trip(s) from then on moved from no driver to d1; months marked for the feature refresh: 2018-08" <<<"$out" ||
	fail "assign does not report the trip it gave d1"
expect_eq "the stored trip is d1's" "$(q "SELECT driver_id FROM trips WHERE trip_id = '$rav4'")" d1
accepted aggregate --month 2018-08 >/dev/null
expect_eq "d1's August 2018" "$(q "SELECT total_trips || ' ' || driver_age FROM monthly_features WHERE driver_id = 'd1' AND month = '2018-08'")" "1 41"
out=$(accepted device assign "$DEV" --driver d1 --vehicle v1 --from 2018-06-01)
grep -q "nothing changed" <<<"$out" || fail "assigning the same driver and vehicle again is not a no-op: $out"

echo "== a late handover: the trips from then on move to the new driver"
out=$(accepted device assign "$DEV" --driver d2 --vehicle v1 --from 2018-08-02)
printf '%s\n' "$out"
grep -q "window #1 (driver d1, vehicle v1) ended at 2018-08-02T00:00:00Z" <<<"$out" || fail "the handover does not end the old window"
grep -q "1 stored trip(s) from then on moved from d1 to d2; months marked for the feature refresh: 2018-08" <<<"$out" ||
	fail "the handover does not report the trip it moved"
expect_eq "the RAV4 trip is d2's" "$(q "SELECT driver_id FROM trips WHERE trip_id = '$rav4'")" d2
expect_eq "d1's emptied month has no feature rows" \
	"$(q "SELECT (SELECT count(*) FROM monthly_features WHERE driver_id = 'd1') + (SELECT count(*) FROM monthly_behaviour WHERE driver_id = 'd1')")" 0
# the running collector's incremental refresh ([collector] refresh_s) takes the marked months
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM monthly_features_dirty")" = 0 ] &&
		[ "$(q "SELECT count(*) FROM monthly_features WHERE driver_id = 'd2'")" = 1 ] && break
	sleep 0.1
done
expect_eq "d2's August 2018, refreshed by the running collector" "$(q "SELECT string_agg(driver_id || ' ' || total_trips, ',') FROM monthly_features WHERE month = '2018-08'")" "d2 1"
expect_eq "windows after the handover" \
	"$(q "SELECT string_agg(driver_id || ' ' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || coalesce(to_char(valid_to AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'open'), ', ' ORDER BY valid_from) FROM device_assignments WHERE device_id = '$DEV'")" \
	"d1 2018-01-01 2018-08-02, d2 2018-08-02 open"
before=$(state)
refused 1 "overlaps its window #1 \(driver d1, vehicle v1, from 2018-01-01T00:00:00Z to 2018-08-02T00:00:00Z\)" \
	device assign "$DEV" --driver d1 --from 2018-06-01
refused 1 "overlaps its window #2 \(driver d2, vehicle v1, from 2018-08-02T00:00:00Z, open\)" \
	device assign "$DEV" --driver d1 --from 2018-08-02
refused 1 "overlaps its window #1" device assign "$DEV" --driver d1 --from 2017-06-01
expect_eq "nothing changed by the refused assignments" "$(state)" "$before"

echo "== the next drive is the driver's at ingest"
replay synthetic-1
synth=$(q "SELECT trip_id FROM trips WHERE device_id = '$DEV' AND trip_id <> '$rav4'")
expect_eq "the 2024 trip's driver" "$(q "SELECT driver_id FROM trips WHERE trip_id = '$synth'")" d2
accepted aggregate --month 2024-05 >/dev/null
expect_eq "d2's May 2024" "$(q "SELECT total_trips FROM monthly_features WHERE driver_id = 'd2' AND month = '2024-05'")" 1

echo "== a late unassign: the trips from then on have no driver"
before=$(state)
refused 1 "--at 2018-06-01T00:00:00Z is not after the start of device $DEV's open window #2" device unassign "$DEV" --at 2018-06-01
expect_eq "nothing changed by the refused unassign" "$(state)" "$before"
out=$(accepted device unassign "$DEV" --at 2024-05-01T00:00:00+02:00)
printf '%s\n' "$out"
grep -q "window #2 (driver d2, vehicle v1, from 2018-08-02T00:00:00Z) ended at 2024-04-30T22:00:00Z" <<<"$out" || fail "unassign: $out"
grep -q "1 stored trip(s) from then on moved from d2 to no driver; months marked for the feature refresh: 2024-05" <<<"$out" ||
	fail "unassign does not report the trip it took from d2"
expect_eq "the 2024 trip has no driver" "$(q "SELECT coalesce(driver_id, 'none') FROM trips WHERE trip_id = '$synth'")" none
expect_eq "d2's May 2024 is gone, August 2018 stays" "$(q "SELECT string_agg(month, ',' ORDER BY month) FROM monthly_features WHERE driver_id = 'd2'")" 2018-08
refused 1 "has no open assignment" device unassign "$DEV"
out=$(accepted device assign "$DEV" --driver d1 --from 2024-05-01)
grep -q "1 stored trip(s) from then on moved from no driver to d1; months marked for the feature refresh: 2024-05" <<<"$out" ||
	fail "the new window does not take the driverless trip: $out"
accepted aggregate --month 2024-05 >/dev/null
expect_eq "d1's May 2024" "$(q "SELECT total_trips FROM monthly_features WHERE driver_id = 'd1' AND month = '2024-05'")" 1

echo "== device list: acked per epoch, last seen, backlog from the latest status record"
# A replay makes no status records (agent/status.h); the gateway running live
# (no sources configured) reports one a second.
"$AGENT" -c "$T/agent.conf" --set agent.status_period_s=1 2>>"$T/agent.stderr" &
apid=$!
odo_track_pid "$apid"
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM device_status WHERE device_id = '$DEV'")" -ge 3 ] && break
	sleep 0.1
done
kill -TERM "$apid"
wait "$apid" || fail "the live agent did not stop cleanly"
oc device list | tee "$T/list.txt"
oc device list --tsv >"$T/list.tsv"
want=$(q "SELECT e.device_id || ' ' || lpad(to_hex(e.epoch), 16, '0') || ' ' || e.acked || ' '
	|| to_char(e.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' ' || s.outbox_depth || ' '
	|| s.outbox_oldest_age_s || ' ' || to_char(s.t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
	FROM device_epochs e JOIN LATERAL (SELECT * FROM device_status x WHERE x.device_id = e.device_id
	AND x.epoch = e.epoch ORDER BY seq DESC LIMIT 1) s ON true WHERE e.device_id = '$DEV'")
[ -n "$want" ] || fail "no device status record of $DEV in the database"
expect_eq "car-1's row" "$(awk -F'\t' -v d="$DEV" '$1 == d { print $1, $2, $3, $4, $5, $6, $7 }' "$T/list.tsv")" "$want"
grep -qE "^$DEV\s+[0-9a-f]{16}\s+[0-9]+\s+[0-9TZ:-]+\s+[0-9]+\s+[0-9]+\s+[0-9TZ:-]+" "$T/list.txt" ||
	fail "the aligned list has no complete row for $DEV"
expect_eq "car-1's driver and vehicle now" "$(awk -F'\t' -v d="$DEV" '$1 == d { print $8, $9 }' "$T/list.tsv")" "d1 -"
expect_eq "car-2 never sent" "$(awk -F'\t' '$1 == "car-2" { print $2, $3, $4, $5 }' "$T/list.tsv")" "- - never -"
expect_eq "the aligned list has the same rows" "$(awk 'NR > 1 { print $1 }' "$T/list.txt" | tr '\n' ' ')" "car-1 car-2 "
refused 1 "1 of the 2 device\(s\) asked for are not registered" device list "$DEV" car-9
echo "OK: operator commands"
