#!/usr/bin/env bash
# Collector memory under a flood (issue #11 finding 6): the resident set of
# odo-collector while the database is down and vehicles keep publishing,
# against the bound [collector] max_queue_bytes, next to a baseline measured
# in the same run: the same flood with the database up.
#
# Flood: DEVICES simulated vehicles x BATCHES batches of RECORDS records
# (odo-fleet-sim, TLS, QoS 1) plus MALFORMED 200 KB messages that are not
# CBOR (each one a dead letter), all through the real broker.
#
#   memory_bench.sh COLLECTOR FLEETSIM [BOUND_MB DEVICES BATCHES RECORDS MALFORMED]
# Prints a markdown table. Exits non-zero when a stage fails or when the
# growth of the resident set with the database down exceeds the bound plus
# a fixed allowance (a memory bound, not a timing).
set -euo pipefail
COLLECTOR=$1
FLEETSIM=$2
BOUND_MB=${3:-32}
N=${4:-10}
B=${5:-40}
R=${6:-1000}
MAL=${7:-300}
ALLOWANCE_MB=16 # fixed buffers: decode scratch, column sets, TLS and libpq buffers, allocator slack
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
devs=()
for i in $(seq 1 "$N"); do devs+=("m-$i"); done
# m-junk sends the malformed messages on a connection of its own (the broker makes the CN the client id)
odo_pki_init "$ODO_TMP/pki" "${devs[@]}" m-junk >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
bound=$((BOUND_MB * 1024 * 1024))
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
mb() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 1024))" "$1"; }

# start_bench NAME: a collector with the bound; sets CPID
start_bench() {
	write_ini "$ODO_TMP/$1.ini" "$1" "$1"
	sed -i "s/^\[collector\]/[collector]\nmax_queue_bytes = $bound/" "$ODO_TMP/$1.ini"
	"$COLLECTOR" --config "$ODO_TMP/$1.ini" run 2>"$ODO_TMP/$1.log" &
	CPID=$!
	odo_track_pid "$CPID"
	for i in $(seq 1 100); do
		grep -q subscribing "$ODO_TMP/$1.log" && break
		kill -0 "$CPID" || { cat "$ODO_TMP/$1.log"; fail "collector $1 exited"; }
		sleep 0.1
	done
	sleep 1
}

# flood: the vehicles and the malformed messages, concurrently
flood() {
	"$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$ODO_TMP/pki" --prefix m- --devices "$N" --batches "$B" \
		--records "$R" --window 20 "$@" >"$ODO_TMP/flood.out" 2>&1 &
	local sim=$!
	python3 -c "import sys; sys.stdout.write(('x' * 200000 + '\n') * int(sys.argv[1]))" "$MAL" |
		mosquitto_pub -h 127.0.0.1 -p "$ODO_MQTT_PORT" -V mqttv5 -q 1 --cafile "$ODO_TMP/pki/ca.crt" \
			--cert "$ODO_TMP/pki/devices/m-junk.crt" --key "$ODO_TMP/pki/devices/m-junk.key" -t odo/v1/m-junk/up -l
	wait "$sim" || { cat "$ODO_TMP/flood.out"; fail "fleet-sim failed"; }
}

# settle PID LOG: until the collector has taken everything the broker holds
# for it (resident set and log unchanged for 3 s)
settle() {
	local last=-1 same=0 now
	while [ $same -lt 30 ]; do
		now=$(kb "$1" VmRSS)$(wc -c <"$2")
		if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
		sleep 0.1
	done
}

raw_bytes=$(( $("$FLEETSIM" --encode-only "$ODO_TMP/one.cbor" --device m-1 --records "$R" >/dev/null; stat -c %s "$ODO_TMP/one.cbor") ))
flood_bytes=$((raw_bytes * N * B + 200001 * MAL))

echo "== baseline: the same flood with the database up" >&2
write_ini "$ODO_TMP/m.ini" m m
"$COLLECTOR" --config "$ODO_TMP/m.ini" migrate 2>/dev/null
start_bench up
idle_up=$(kb "$CPID" VmRSS)
flood
settle "$CPID" "$ODO_TMP/up.log"
peak_up=$(kb "$CPID" VmHWM)
stored_up=$(q "SELECT count(*) FROM batches")
kill -TERM "$CPID"; wait "$CPID" || true
q "TRUNCATE samples, events, device_status, trips, batches, dead_letters, device_epochs CASCADE" >/dev/null

echo "== the flood with the database down (bound $BOUND_MB MB)" >&2
odo_pg_stop
start_bench down
idle_down=$(kb "$CPID" VmRSS)
flood
settle "$CPID" "$ODO_TMP/down.log"
peak_down=$(kb "$CPID" VmHWM)
shed=$(grep -c "not taken\|not kept" "$ODO_TMP/down.log" || true)
echo "== database back: what was held is committed" >&2
odo_pg_start
for i in $(seq 1 600); do
	grep -q "connected to the database" "$ODO_TMP/down.log" && break
	sleep 0.1
done
held=-1
for i in $(seq 1 300); do
	now=$(q "SELECT count(*) FROM batches")
	[ "$now" = "$held" ] && [ "$now" -gt 0 ] && break
	held=$now
	sleep 1
done
dead=$(q "SELECT count(*) FROM dead_letters")
kill -TERM "$CPID"; wait "$CPID" || true

grow_up=$((peak_up - idle_up))
grow_down=$((peak_down - idle_down))
ratio=$(python3 -c "print('%.2f' % ($grow_down * 1024 / $bound))")
cat <<TABLE
| run | flood offered | resident at start | peak resident | growth | growth / bound |
|---|---:|---:|---:|---:|---:|
| baseline: database up | $(mb $((flood_bytes / 1024))) MB | $(mb "$idle_up") MB | $(mb "$peak_up") MB | $(mb "$grow_up") MB | $(python3 -c "print('%.2f' % ($grow_up * 1024 / $bound))") |
| **database down** | $(mb $((flood_bytes / 1024))) MB | $(mb "$idle_down") MB | $(mb "$peak_down") MB | **$(mb "$grow_down") MB** | **$ratio** |

bound \`max_queue_bytes\` = $BOUND_MB MB; flood = $N vehicles x $B batches x $R records ($((raw_bytes / 1024)) KB per batch) + $MAL malformed 200 KB messages;
database up: $stored_up batches committed; database down: $shed messages refused beyond the bound (unacked: devices resend), then $held batches and $dead dead letters committed when the database came back.
TABLE
limit=$((bound / 1024 + ALLOWANCE_MB * 1024))
[ "$grow_down" -le "$limit" ] || fail "resident set grew by $(mb "$grow_down") MB with the database down: more than the bound ($BOUND_MB MB) + $ALLOWANCE_MB MB"
[ "$shed" -gt 0 ] || fail "the flood never reached the bound: make it larger"
[ "$held" -gt 0 ] || fail "nothing held was committed when the database came back"
