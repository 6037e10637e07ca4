# tests/e2e/store/lib.sh — shared setup of the store-and-forward e2e tests:
# a TLS mosquitto with the repo's broker policy, the ack-sink, the driver.
# Needs ODO_SOURCE_DIR and ODO_BINARY_DIR (set by CTest).
set -euo pipefail
: "${ODO_SOURCE_DIR:?}" "${ODO_BINARY_DIR:?}"
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"

BIN="$ODO_BINARY_DIR/tests/e2e/store"
DRIVER="$BIN/store-driver"
SINK="$BIN/ack-sink"
CHECK="$ODO_SOURCE_DIR/tests/e2e/store/check.py"
for b in "$DRIVER" "$SINK"; do
	[ -x "$b" ] || odo_die "$b is not built"
done

# store_setup DEVICE: temp dir, PKI, broker, sink.
store_setup() {
	DEV=$1
	odo_tmpdir
	odo_pki_init "$ODO_TMP/pki" "$DEV"
	odo_start_mosquitto "$ODO_TMP/pki"
	PKI="$ODO_TMP/pki"
	SINK_OUT="$ODO_TMP/sink.out"
	PLOG="$ODO_TMP/produced.log"
	DB="$ODO_TMP/outbox.db"
	: >"$SINK_OUT"
	[ -n "${STORE_NO_SINK:-}" ] || sink_start
}

sink_start() {
	"$SINK" --port "$ODO_MQTT_PORT" --cafile "$PKI/ca.crt" --cert "$PKI/collector.crt" \
		--key "$PKI/collector.key" --out "$SINK_OUT" 2>>"$ODO_TMP/sink.log" &
	SINK_PID=$!
	odo_track_pid "$SINK_PID"
}

sink_stop() {
	kill -TERM "$SINK_PID" 2>/dev/null || true
	wait "$SINK_PID" 2>/dev/null || true
	cat "$ODO_TMP/sink.log" >&2
}

# driver ARGS... &: the producer with this test's files. Background only:
# it execs, so that $! is the driver itself (SIGKILL must hit it, not a subshell).
driver() {
	exec "$DRIVER" --db "$DB" --port "$ODO_MQTT_PORT" --cafile "$PKI/ca.crt" \
		--cert "$PKI/devices/$DEV.crt" --key "$PKI/devices/$DEV.key" --device "$DEV" \
		--log "$PLOG" "$@"
}

# The highest i in the produced log (0 when none).
produced_max() {
	python3 -c 'import sys
m = 0
for l in open(sys.argv[1]):
    if l.endswith("\n"): m = max(m, int(l.split()[0]))
print(m)' "$PLOG" 2>/dev/null || echo 0
}

# driver_run SECONDS ARGS...: run the driver to completion; fail after SECONDS.
driver_run() {
	local limit=$1 pid i
	shift
	driver "$@" 2>>"$ODO_TMP/driver.log" &
	pid=$!
	for ((i = 0; i < limit * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return $?
		fi
		sleep 0.1
	done
	kill -TERM "$pid"
	wait "$pid" || true
	tail -20 "$ODO_TMP/driver.log" >&2
	odo_die "driver did not finish within $limit s"
}

# driver_drained PID SECONDS WHY: wait for the background driver PID to exit
# (it exits only with an empty outbox); fail after SECONDS. Then STATS holds
# its last counters line (read with driver_stat).
driver_drained() {
	local pid=$1 limit=$2 i
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		tail -20 "$ODO_TMP/driver.log" >&2
		odo_die "the backlog did not drain within $limit s$3"
	fi
	wait "$pid" || odo_die "driver failed"
	STATS=$(grep 'produced up to' "$ODO_TMP/driver.log" | tail -1)
	echo "$STATS" >&2
}

# driver_stat NAME: one counter of STATS ("ack timeouts", "depth", ...).
driver_stat() {
	sed -n "s/.*$1 \([0-9]*\).*/\1/p" <<<"$STATS"
}
