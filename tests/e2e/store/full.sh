#!/usr/bin/env bash
# Full storage end to end: the broker is down while 1000 records are
# produced into an outbox capped at 150 records. Samples are evicted
# (oldest first), every event and crash record survives and arrives once
# the broker is back.
source "$(dirname "$0")/lib.sh"
store_setup dev-full
odo_stop_mosquitto
driver --count 1000 --rate 2000 --max-records 150 2>>"$ODO_TMP/driver.log" &
DPID=$!
odo_track_pid "$DPID"
for ((i = 0; i < 300; i++)); do
	[ "$(produced_max)" -ge 1000 ] && break
	sleep 0.1
done
[ "$(produced_max)" -ge 1000 ] || odo_die "the driver did not produce 1000 records while offline"
q() { python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute(sys.argv[2]).fetchone()[0])' "$DB" "$1"; }
depth=$(q 'SELECT count(*) FROM outbox')
events=$(q 'SELECT count(*) FROM outbox WHERE prio >= 1')
evicted=$(q "SELECT value FROM meta WHERE key = 'evicted'")
echo "offline: outbox holds $depth records ($events events/crash), $evicted evicted" >&2
[ "$depth" -le 150 ] || odo_die "cap exceeded: $depth"
[ "$events" = 100 ] || odo_die "expected all 100 events/crash records in the outbox, found $events"
[ "$evicted" -eq 850 ] || odo_die "expected 850 samples evicted, got $evicted"
odo_restart_mosquitto
for ((i = 0; i < 600; i++)); do
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$DPID" 2>/dev/null && odo_die "the outbox did not drain"
wait "$DPID" || odo_die "driver failed"
sleep 0.5
sink_stop
out=$(python3 "$CHECK" "$PLOG" "$SINK_OUT" "$DEV" --samples-may-be-evicted) || { echo "$out"; exit 1; }
echo "$out"
grep -q 'evicted samples 850;' <<<"$out" || odo_die "expected exactly the 850 evicted samples to be absent"
