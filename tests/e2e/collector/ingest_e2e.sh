#!/usr/bin/env bash
# End to end through the real broker (TLS, client certificates) and a real
# PostgreSQL: batches in, rows out, acks back; duplicates; a forged device
# id; malformed CBOR; a database outage.
set -euo pipefail
COLLECTOR=$1
FLEETSIM=$2
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-1 dev-2 dev-3 dev-4 >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
write_ini "$ODO_TMP/c1.ini" c1 c1
"$COLLECTOR" --config "$ODO_TMP/c1.ini" migrate 2>/dev/null
start_collector c1 collector-c1 2 # two database connections

# dev-1 is driven by drv-1 (for the incremental monthly-feature refresh)
"$COLLECTOR" --config "$ODO_TMP/c1.ini" driver add drv-1 --age 40 >/dev/null
"$COLLECTOR" --config "$ODO_TMP/c1.ini" device add dev-1 >/dev/null
"$COLLECTOR" --config "$ODO_TMP/c1.ini" device assign dev-1 --driver drv-1 --from 2026-01-01 >/dev/null

echo "== batches in, rows out, acks back (with evicted ranges)"
sim --devices 2 --batches 6 --records 50 --gap 3 --wait-acks 30 >"$ODO_TMP/sim1.out" || { cat "$ODO_TMP/sim1.out"; fail "acks did not arrive"; }
cat "$ODO_TMP/sim1.out"
# 6 batches of 50 records, every 3rd batch (2 of 6) skips 3 evicted numbers: last seq 306
grep -q "^ack dev-1 306 last 306$" "$ODO_TMP/sim1.out" || fail "dev-1 ack is not 306"
grep -q "^ack dev-2 306 last 306$" "$ODO_TMP/sim1.out" || fail "dev-2 ack is not 306"
expect_eq "records stored" "$(stored_records 'dev-%')" 600
expect_eq "acked in the database" "$(q "SELECT string_agg(device_id || '=' || acked, ',' ORDER BY device_id) FROM device_epochs")" "dev-1=306,dev-2=306"
expect_eq "batch ranges recorded" "$(q "SELECT count(*) FROM batches WHERE processed_by = 'c1'")" 12
expect_eq "sample values" "$(q "SELECT count(*) FROM samples WHERE lat BETWEEN 52 AND 53 AND fix = 3 AND speed_mps >= 0")" \
	"$(q "SELECT count(*) FROM samples")"
expect_eq "finished trips" "$(q "SELECT count(*) > 0 FROM trips WHERE end_time IS NOT NULL AND distance_m > 0 AND duration_minutes > 0")" t

echo "== incremental refresh: drv-1's November features appear without running aggregate"
for i in $(seq 1 50); do
	[ "$(q "SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-1'")" = 1 ] && break
	sleep 0.1
done
expect_eq "drv-1 trips attributed" "$(q "SELECT count(*) > 0 FROM trips WHERE driver_id = 'drv-1' AND end_time IS NOT NULL")" t
expect_eq "drv-1 refreshed row" "$(q "SELECT month || ' ' || total_trips || ' ' || driver_age FROM monthly_features WHERE driver_id = 'drv-1'")" \
	"2026-11 $(q "SELECT count(*) FROM trips WHERE device_id = 'dev-1' AND end_time IS NOT NULL") 40"
expect_eq "no dirty marks left" "$(q "SELECT count(*) FROM monthly_features_dirty")" 0

echo "== duplicates: the same batches again, each twice"
before=$(q "SELECT md5(string_agg(device_id || seq || t, ',' ORDER BY device_id, seq)) FROM samples")
sim --devices 2 --batches 6 --records 50 --gap 3 --dup --wait-acks 30 >"$ODO_TMP/sim2.out" || { cat "$ODO_TMP/sim2.out"; fail "acks for duplicates"; }
grep -q "^ack dev-1 306 last 306$" "$ODO_TMP/sim2.out" || fail "dev-1 ack changed after duplicates"
expect_eq "records after duplicates" "$(stored_records 'dev-%')" 600
expect_eq "samples unchanged" "$(q "SELECT md5(string_agg(device_id || seq || t, ',' ORDER BY device_id, seq)) FROM samples")" "$before"
expect_eq "acked unchanged" "$(q "SELECT string_agg(device_id || '=' || acked, ',' ORDER BY device_id) FROM device_epochs")" "dev-1=306,dev-2=306"

echo "== stored values equal the values sent, bit for bit"
"$FLEETSIM" --encode-only "$ODO_TMP/exact.cbor" --device dev-2 --start-seq 307 --records 30 >"$ODO_TMP/exact.txt"
pub_as dev-2 odo/v1/dev-2/up "$ODO_TMP/exact.cbor"
for i in $(seq 1 100); do
	[ "$(q "SELECT acked FROM device_epochs WHERE device_id = 'dev-2'")" = 336 ] && break
	sleep 0.1
done
expect_eq "dev-2 acked after the exact batch" "$(q "SELECT acked FROM device_epochs WHERE device_id = 'dev-2'")" 336
q "SELECT seq, (extract(epoch FROM t) * 1000)::bigint, lat, lon, speed_mps, heading_deg, rpm, ax_g, ay_g
   FROM samples WHERE device_id = 'dev-2' AND seq BETWEEN 307 AND 336 ORDER BY seq" | tr '|' ' ' >"$ODO_TMP/exact.db"
python3 - "$ODO_TMP/exact.txt" "$ODO_TMP/exact.db" <<'PY' || fail "stored sample values differ from those sent"
import sys
sent = [l.split()[1:] for l in open(sys.argv[1]) if l.startswith("sample ")]
got = [l.split() for l in open(sys.argv[2]) if l.strip()]
assert len(sent) == len(got) and len(sent) > 20, (len(sent), len(got))
for a, b in zip(sent, got):
    assert a[:2] == b[:2], (a, b)
    assert [float(x) for x in a[2:]] == [float(x) for x in b[2:]], (a, b)
print("ok: %d samples identical (seq, t, lat, lon, speed, heading, rpm, ax, ay)" % len(sent))
PY

echo "== out of order: [11, 20] before [1, 10]: no ack past the gap until it is filled"
"$FLEETSIM" --encode-only "$ODO_TMP/b1.cbor" --device dev-4 --start-seq 1 --records 10 >/dev/null
"$FLEETSIM" --encode-only "$ODO_TMP/b2.cbor" --device dev-4 --start-seq 11 --records 10 >/dev/null
pub_as dev-4 odo/v1/dev-4/up "$ODO_TMP/b2.cbor"
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM batches WHERE device_id = 'dev-4'")" = 1 ] && break
	sleep 0.1
done
expect_eq "dev-4 after [11, 20] only" "$(q "SELECT acked FROM device_epochs WHERE device_id = 'dev-4'")" 0
pub_as dev-4 odo/v1/dev-4/up "$ODO_TMP/b1.cbor"
for i in $(seq 1 100); do
	[ "$(q "SELECT acked FROM device_epochs WHERE device_id = 'dev-4'")" = 20 ] && break
	sleep 0.1
done
expect_eq "dev-4 after the gap is filled" "$(q "SELECT acked FROM device_epochs WHERE device_id = 'dev-4'")" 20
expect_eq "dev-4 records" "$(stored_records 'dev-4')" 20

echo "== forged: dev-1's certificate, topic dev-1, payload says dev-2"
"$FLEETSIM" --encode-only "$ODO_TMP/forged.cbor" --device dev-1 --payload-device dev-2 --start-seq 5000 --records 10 >/dev/null
pub_as dev-1 odo/v1/dev-1/up "$ODO_TMP/forged.cbor"
echo "== malformed CBOR"
printf '\xa4\x61v\x01\x63dev\x7f\xff\xff' >"$ODO_TMP/bad.cbor"
pub_as dev-2 odo/v1/dev-2/up "$ODO_TMP/bad.cbor"
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM dead_letters")" = 2 ] && break
	sleep 0.1
done
expect_eq "dead letters" "$(q "SELECT count(*) FROM dead_letters")" 2
expect_eq "forged reason" "$(q "SELECT error_name || '|' || field || '|' || topic || '|' || topic_device || '|' || processed_by FROM dead_letters WHERE topic_device = 'dev-1'")" \
	"ODO_ERR_PROTOCOL|dev|odo/v1/dev-1/up|dev-1|c1"
q "SELECT message FROM dead_letters WHERE topic_device = 'dev-1'" | grep -q "payload's device 'dev-2' is not the topic's 'dev-1'" || fail "forged message text"
expect_eq "forged payload kept byte for byte (md5)" "$(q "SELECT md5(payload) FROM dead_letters WHERE topic_device = 'dev-1'")" "$(md5sum <"$ODO_TMP/forged.cbor" | cut -d' ' -f1)"
expect_eq "nothing of the forged batch stored" "$(q "SELECT count(*) FROM samples WHERE seq >= 5000")" 0
row=$(q "SELECT error_name, field, message FROM dead_letters WHERE topic_device = 'dev-2'")
echo "malformed: $row"
case "$row" in ODO_ERR_WIRE_*) ;; *) fail "malformed CBOR reason is not a wire error: $row" ;; esac
expect_eq "malformed payload kept" "$(q "SELECT encode(payload, 'hex') FROM dead_letters WHERE topic_device = 'dev-2'")" "$(od -An -v -tx1 "$ODO_TMP/bad.cbor" | tr -d ' \n')"
grep -q "rejected message on odo/v1/dev-1/up" "$ODO_TMP/c1.log" || fail "rejection not logged"

echo "== database outage: no acks while it is down; acks resume and nothing is lost"
odo_pg_stop
sim_out="$ODO_TMP/sim3.out"
: >"$ODO_TMP/outage-acks"
"$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$ODO_TMP/pki" --devices 1 --first 3 --batches 4 --records 40 --wait-acks 90 \
	--ack-log "$ODO_TMP/outage-acks" >"$sim_out" 2>&1 &
simpid=$!
odo_track_pid "$simpid"
# While the database is down, dev-3 hears no ack at all (fleet-sim logs each
# ack it receives; a second connection as dev-3 would replace its own).
sleep 4
kill -0 "$simpid" 2>/dev/null || { cat "$sim_out"; fail "fleet-sim ended during the outage"; }
[ ! -s "$ODO_TMP/outage-acks" ] || fail "an ack arrived while the database was down: $(cat "$ODO_TMP/outage-acks")"
echo "ok: no ack during the outage"
grep -q "database connection lost" "$ODO_TMP/c1.log" || fail "the outage was not noticed"
odo_pg_start
wait "$simpid" || { cat "$sim_out"; fail "acks did not resume after the database came back"; }
cat "$sim_out"
grep -q "^ack dev-3 160 last 160$" "$sim_out" || fail "dev-3 not acked to 160"
expect_eq "dev-3 records after the outage" "$(stored_records 'dev-3')" 160
expect_eq "dev-3 acked in the database" "$(q "SELECT acked FROM device_epochs WHERE device_id = 'dev-3'")" 160
grep -q "connected to the database" "$ODO_TMP/c1.log" || fail "no reconnect logged"

echo "== broker restart: the collector reconnects and resumes its session"
odo_stop_mosquitto
sleep 2
odo_restart_mosquitto
for i in $(seq 1 100); do
	[ "$(grep -c "session resumed" "$ODO_TMP/c1.log")" -ge 1 ] && break
	sleep 0.1
done
grep -q "disconnected from the broker" "$ODO_TMP/c1.log" || fail "broker loss not logged"
grep -q "session resumed" "$ODO_TMP/c1.log" || fail "the collector did not resume its session"
sim --devices 1 --first 3 --batches 2 --records 40 --start-seq 161 --wait-acks 30 >"$ODO_TMP/sim4.out" || { cat "$ODO_TMP/sim4.out"; fail "no acks after the broker restart"; }
grep -q "^ack dev-3 240 last 240$" "$ODO_TMP/sim4.out" || fail "dev-3 not acked to 240"
expect_eq "dev-3 records after the broker restart" "$(stored_records 'dev-3')" 240
echo "PASS"
