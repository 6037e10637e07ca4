#!/bin/bash
# agent_outbox_epochs (#11, finding 2): the real odo-agent, a real TLS
# mosquitto and tests/e2e/store's ack-sink.
#  1. A replaced outbox (SD card swapped, gateway replaced, damaged file moved
#     aside) starts a new epoch: the same device sends two epochs, each
#     numbered from 1, and both are acknowledged and drained completely.
#  2. An ack beyond the last record the outbox handed out (a collector whose
#     state belongs to another outbox) deletes nothing: the agent logs a
#     protocol error with both numbers, keeps every record and resends.
#     The version 1 agent clamped such an ack and deleted its whole outbox.
# Usage: epochs.sh /path/to/odo-agent /path/to/ack-sink
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: epochs.sh ODO_AGENT ACK_SINK}
SINK=${2:?usage: epochs.sh ODO_AGENT ACK_SINK}
for b in "$AGENT" "$SINK"; do [ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }; done
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
DRIVE="$ODO_SOURCE_DIR/tests/data/drives/synthetic-1"
DEV=epoch-1

odo_tmpdir
T=$ODO_TMP
odo_pki_init "$T/pki" "$DEV"
odo_start_mosquitto "$T/pki"

fail() {
	echo "FAIL: $*" >&2
	for f in agent.log sink.log sink2.log; do
		[ -f "$T/$f" ] && { echo "--- $f" >&2; tail -20 "$T/$f" >&2; }
	done
	exit 1
}

# start_sink NAME [ACK-SINK OPTIONS...]: an ack-sink writing $T/NAME.out
start_sink() {
	local name=$1
	shift
	"$SINK" --port "$ODO_MQTT_PORT" --cafile "$T/pki/ca.crt" --cert "$T/pki/collector.crt" \
		--key "$T/pki/collector.key" --out "$T/$name.out" --epoch-column --id "sink-$name" "$@" \
		2>"$T/$name.log" &
	SINK_PID=$!
	odo_track_pid $SINK_PID
}

# conf OUTBOX: the agent's configuration with that outbox file
conf() {
	odo_agent_conf "$T" "$DEV" "$1" "" "" $'ack_timeout = 1\n'
}

# replay EMIT DRAIN_S: replay the drive into the configured outbox; exit code kept in $rc
replay() {
	rc=0
	"$AGENT" -c "$T/agent.conf" --replay "$DRIVE" --emit "$T/$1" --drain-timeout "$2" 2>>"$T/agent.stderr" || rc=$?
}

outbox_count() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox").fetchone()[0])' "$1"
}

echo "== 1. a replaced outbox starts a new epoch"
start_sink sink
conf "$T/outbox-a.db"
replay emit.a 60
[ "$rc" = 0 ] || fail "first outbox not drained (exit $rc)"
mv "$T/outbox-a.db" "$T/outbox-a.db.moved-aside" # what an operator does with a damaged outbox
rm -f "$T/outbox-a.db-wal" "$T/outbox-a.db-shm"
conf "$T/outbox-b.db"
replay emit.b 60
[ "$rc" = 0 ] || fail "second outbox not drained (exit $rc): its records were not acknowledged"
kill -TERM $SINK_PID
wait $SINK_PID || fail "ack-sink exited $?"
python3 - "$T" "$DEV" <<'PY' || fail "epochs (above)"
import sys
t, dev = sys.argv[1], sys.argv[2]
def emitted(name):
    return [int(l.split()[0]) for l in open(t + "/" + name) if l.endswith("\n")]
a, b = emitted("emit.a"), emitted("emit.b")
by_epoch = {}
for line in open(t + "/sink.out"):
    p = line.split()
    if len(p) == 6 and p[0] == dev:
        by_epoch.setdefault(p[5], set()).add(int(p[1]))
print("outbox a stored seqs %d..%d, outbox b %d..%d; the sink got epochs %s"
      % (min(a), max(a), min(b), max(b), {e: (min(s), max(s), len(s)) for e, s in by_epoch.items()}))
ok = len(by_epoch) == 2 and all(int(e, 16) != 0 for e in by_epoch)
ok = ok and min(a) == 1 and min(b) == 1
ok = ok and sorted(len(s) for s in by_epoch.values()) == sorted([len(set(a)), len(set(b))])
ok = ok and all(min(s) == 1 for s in by_epoch.values())
if not ok:
    print("FAIL: want two different non-zero epochs, each numbered from 1 and complete")
sys.exit(0 if ok else 1)
PY

echo "== 2. an ack beyond the last record deletes nothing"
start_sink sink2 --ack-extra 1000
conf "$T/outbox-c.db"
replay emit.c 4
[ "$rc" = 3 ] || fail "the agent reported exit $rc; want 3 (records still unacknowledged)"
kill -TERM $SINK_PID
wait $SINK_PID || fail "ack-sink exited $?"
stored=$(grep -c . "$T/emit.c")
left=$(outbox_count "$T/outbox-c.db")
echo "stored $stored records; $left still in the outbox after acks 1000 beyond the last one"
[ "$left" = "$stored" ] || fail "$((stored - left)) record(s) deleted by acks beyond the outbox"
grep -q "protocol error: ack [0-9]* is beyond [0-9]*, the last sequence number this outbox" "$T/agent.log" ||
	fail "no protocol error logged"
grep -m1 "protocol error" "$T/agent.log"
# the records were sent (and resent), never deleted
[ "$(awk 'NF == 6' "$T/sink2.out" | wc -l)" -ge "$stored" ] || fail "the records were not sent"

echo "== the same outbox against a collector that acknowledges correctly: drained"
start_sink sink3
replay emit.d 60
[ "$rc" = 0 ] || fail "outbox c not drained by a correct collector (exit $rc)"
[ "$(outbox_count "$T/outbox-c.db")" = 0 ] || fail "outbox c not empty"
kill -TERM $SINK_PID
wait $SINK_PID || true
echo "OK: new outbox = new epoch, both drained; acks beyond the outbox deleted nothing"
