#!/usr/bin/env bash
# Scale-out: two collectors on one shared subscription, a simulated fleet
# with its own device certificates. Every record is stored exactly once,
# every device is acked to its last sequence number, both collectors did
# work, and one collector restarting mid-run loses nothing (persistent
# session: the broker queues its share while it is away).
set -euo pipefail
COLLECTOR=$1
FLEETSIM=$2
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
N=${ODO_SCALE_DEVICES:-20}
B=${ODO_SCALE_BATCHES:-30}
R=${ODO_SCALE_RECORDS:-100}
odo_tmpdir
devs=()
for i in $(seq 1 "$N"); do devs+=("car-$i"); done
odo_pki_init "$ODO_TMP/pki" "${devs[@]}" >/dev/null
# One certificate identity per collector: the broker binds the client id to it.
"$ODO_SOURCE_DIR/tools/pki" collector "$ODO_TMP/pki" odo-collector-c1 odo-collector-c2
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
write_ini "$ODO_TMP/m.ini" m m
"$COLLECTOR" --config "$ODO_TMP/m.ini" migrate 2>/dev/null
start_collector c1 odo-collector-c1
start_collector c2 odo-collector-c2

"$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$ODO_TMP/pki" --prefix car- --devices "$N" --batches "$B" \
	--records "$R" --window 4 --rate 150 --wait-acks 180 >"$ODO_TMP/sim.out" 2>&1 &
simpid=$!
odo_track_pid "$simpid"
# 600 messages at 150/s: c2 goes away at ~1 s and is back at ~2.5 s
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM batches")" -gt 50 ] && break
	sleep 0.05
done
echo "== restarting c2 while the fleet publishes"
kill -TERM "$PID_c2"
wait "$PID_c2" || fail "c2 did not stop cleanly"
sleep 1.5
mv "$ODO_TMP/c2.log" "$ODO_TMP/c2.first.log"
start_collector c2 odo-collector-c2
grep -q "session resumed" "$ODO_TMP/c2.log" || fail "c2 did not resume its persistent session"
wait "$simpid" || { cat "$ODO_TMP/sim.out"; fail "not every device was acked"; }
tail -n 1 "$ODO_TMP/sim.out"
bad=$(grep '^ack ' "$ODO_TMP/sim.out" | awk '$3 != $5' | wc -l)
expect_eq "devices not acked to their last seq" "$bad" 0
total=$((N * B * R))
expect_eq "records stored" "$(stored_records 'car-%')" "$total"
expect_eq "distinct (device, seq) over every table" "$(q "SELECT count(*) FROM (
	SELECT device_id, seq FROM samples UNION ALL SELECT device_id, seq FROM events
	UNION ALL SELECT device_id, seq FROM device_status UNION ALL SELECT device_id, start_seq FROM trips WHERE start_seq IS NOT NULL
	UNION ALL SELECT device_id, end_seq FROM trips WHERE end_seq IS NOT NULL) x")" "$total"
expect_eq "batches committed" "$(q "SELECT count(*) FROM batches")" "$((N * B))"
expect_eq "acked = last seq for every device" "$(q "SELECT count(*) FROM device_epochs WHERE acked = $((B * R))")" "$N"
c1=$(q "SELECT coalesce(sum(n_records), 0) FROM batches WHERE processed_by = 'c1'")
c2=$(q "SELECT coalesce(sum(n_records), 0) FROM batches WHERE processed_by = 'c2'")
echo "records stored by c1: $c1, by c2: $c2"
[ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] || fail "both collectors must have stored records"
expect_eq "c1 + c2" "$((c1 + c2))" "$total"
kill -TERM "$PID_c1" "$PID_c2"
wait "$PID_c1" "$PID_c2" || true
grep "stats:" "$ODO_TMP/c1.log" | tail -n 1
grep "stats:" "$ODO_TMP/c2.first.log" | tail -n 1
grep "stats:" "$ODO_TMP/c2.log" | tail -n 1
c2b=$(grep "stats:" "$ODO_TMP/c2.log" | tail -n 1 | sed 's/.* records=\([0-9]*\).*/\1/')
# the restarted c2 must have stored some too (the fleet was still publishing)
[ "${c2b:-0}" -gt 0 ] || fail "the restarted c2 stored nothing: the restart did not happen under load"
echo PASS
