#!/bin/bash
# agent_lifecycle: a live odo-agent (phone socket only: no GPS, CAN or
# accelerometer) sending to a real TLS mosquitto, with tests/e2e/store's
# ack-sink acknowledging. Checks: status and phone records reach the sink;
# SIGHUP reopens a renamed log file; SIGTERM exits 0 within
# shutdown_grace_s + 5 s and leaves the outbox empty (all acknowledged).
# Usage: lifecycle.sh /path/to/odo-agent /path/to/ack-sink
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: lifecycle.sh ODO_AGENT ACK_SINK}
SINK=${2:?usage: lifecycle.sh ODO_AGENT ACK_SINK}
for b in "$AGENT" "$SINK"; do [ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }; done
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
HERE="$ODO_SOURCE_DIR/tests/e2e/agent"
DEV=lifecycle-1
GRACE=3

odo_tmpdir
T=$ODO_TMP
odo_pki_init "$T/pki" "$DEV"
odo_start_mosquitto "$T/pki"
: >"$T/sink.out"
"$SINK" --port "$ODO_MQTT_PORT" --cafile "$T/pki/ca.crt" --cert "$T/pki/collector.crt" \
	--key "$T/pki/collector.key" --out "$T/sink.out" 2>"$T/sink.log" &
odo_track_pid $!

cat >"$T/agent.conf" <<CONF
[agent]
device_id = $DEV
state_dir = $T/state
log_file = $T/agent.log
status_period_s = 1
shutdown_grace_s = $GRACE
gps = false
accel = false
[can]
enabled = false
[phone]
socket = $T/phone.sock
[store]
path = $T/outbox.db
[uplink]
port = $ODO_MQTT_PORT
cafile = $T/pki/ca.crt
certfile = $T/pki/devices/$DEV.crt
keyfile = $T/pki/devices/$DEV.key
backoff_min = 0.2
backoff_max = 1
CONF

fail() {
	echo "FAIL: $*" >&2
	for f in agent.log agent.log.1 agent.stderr sink.log; do
		[ -f "$T/$f" ] && { echo "--- $f" >&2; tail -20 "$T/$f" >&2; }
	done
	exit 1
}

# count KIND: records of that wire kind from our device at the sink.
count() { awk -v d="$DEV" -v k="$1" '$1 == d && $3 == k' "$T/sink.out" | wc -l; }
# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$what (not within $limit s)"
}
at_least() { [ "$(count "$1")" -ge "$2" ]; }

"$AGENT" -c "$T/agent.conf" 2>"$T/agent.stderr" &
APID=$!
odo_track_pid $APID
wait_for 10 "phone socket $T/phone.sock appears" test -S "$T/phone.sock"

# Phone state changes: each answered ok, a malformed one rejected.
python3 "$HERE/phone_client.py" "$T/phone.sock" \
	"odo-phone/1 screen=on call=none handled=1" \
	"odo-phone/1 screen=on call=handheld handled=1" \
	"odo-phone/1 screen=off call=bogus handled=0" \
	"odo-phone/1 screen=off call=none handled=0" >"$T/phone.replies" || fail "phone client: $(cat "$T/phone.replies")"
printf 'ok\nok\nerr bad value '\''call=bogus'\''\nok\n' | cmp -s - "$T/phone.replies" ||
	fail "phone replies: $(cat "$T/phone.replies")"

# 7 = PHONE, 8 = STATUS (common/include/odo/wire.h)
wait_for 20 "3 PHONE records at the sink (have $(count 7))" at_least 7 3
wait_for 20 "2 STATUS records at the sink (have $(count 8))" at_least 8 2
[ "$(count 7)" = 3 ] || fail "expected exactly 3 PHONE records (the bad line changes nothing), got $(count 7)"
grep -q "running as $DEV" "$T/agent.log" || fail "agent.log lacks the start-up line"

# SIGHUP: the renamed log stops growing, a new agent.log gets the lines.
mv "$T/agent.log" "$T/agent.log.1"
kill -HUP $APID
wait_for 10 "a new agent.log after SIGHUP" test -s "$T/agent.log"
grep -q "SIGHUP: log reopened" "$T/agent.log" || fail "new agent.log lacks the SIGHUP line: $(cat "$T/agent.log")"
grep -q "SIGHUP" "$T/agent.log.1" && fail "SIGHUP line went to the renamed log"
kill -0 $APID || fail "agent died on SIGHUP"
python3 "$HERE/phone_client.py" "$T/phone.sock" "odo-phone/1 screen=on call=handsfree handled=0" >/dev/null ||
	fail "phone socket after SIGHUP"
wait_for 10 "PHONE record after SIGHUP" at_least 7 4
s=$(count 8)
wait_for 10 "STATUS records keep coming after SIGHUP" at_least 8 $((s + 1))

# SIGTERM right after a phone change: exit 0 within grace + 5 s, with that
# record too acknowledged (the grace time is for sending the backlog).
python3 "$HERE/phone_client.py" "$T/phone.sock" "odo-phone/1 screen=off call=none handled=1" >/dev/null ||
	fail "phone socket before SIGTERM"
kill -TERM $APID
rc=
for ((i = 0; i < (GRACE + 5) * 10; i++)); do
	if ! kill -0 $APID 2>/dev/null; then
		rc=0
		wait $APID || rc=$?
		break
	fi
	sleep 0.1
done
[ -n "$rc" ] || fail "agent still running $((GRACE + 5)) s after SIGTERM"
[ "$rc" = 0 ] || fail "agent exited $rc after SIGTERM"
left=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM outbox").fetchone()[0])' "$T/outbox.db")
[ "$left" = 0 ] || fail "$left record(s) left in the outbox after a clean shutdown"
[ "$(count 7)" = 5 ] || fail "the PHONE record made just before SIGTERM did not reach the sink ($(count 7) of 5)"
grep -q "stopping: ending the trip" "$T/agent.log" || fail "agent.log lacks the shutdown line"
grep -q "records left in the outbox" "$T/agent.log" && fail "agent gave up flushing within the grace time"
# every seq the agent made reached the sink, none twice
python3 - "$T/sink.out" "$DEV" <<'PY' || fail "sink sequence check"
import sys
seqs = [int(l.split()[1]) for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
if sorted(set(seqs)) != list(range(1, max(seqs) + 1)):
    sys.exit("seqs not 1..n: %s" % sorted(set(seqs)))
print("sink: %d records, seq 1..%d" % (len(seqs), max(seqs)))
PY
echo "OK: phone=$(count 7) status=$(count 8)"
