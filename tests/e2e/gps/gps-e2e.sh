#!/bin/bash
# gps_e2e_<log>: a real gpsd fed by gpsfake plays one receiver log from
# gpsd's regression suite (tests/data/gpsd/); the agent's GPS source
# (gps-view) connects to it like odo-agent does, and every TPV it delivers
# is compared field by field with gpsd 3.22's own output (the .chk).
#
#   gps-e2e.sh GPS_VIEW LOG            (compare)
#   gps-e2e.sh GPS_VIEW LOG reconnect  (gpsd killed and restarted mid-way)
#
# gpsfake feeds its pty as soon as the device is added, and gpsd reads the
# device only once a client watches, so sentences could be lost before the
# agent is connected. gpsfake -i (single-step) makes it wait for a line on
# stdin before each sentence: the sentences are released only after the
# agent has connected, which makes the run deterministic.
set -euo pipefail
view=$1 log=$2 mode=${3:-compare}
here=$(cd "$(dirname "$0")" && pwd)
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
command -v gpsfake >/dev/null || odo_die "gpsfake is not installed (gpsd-clients): run tools/bootstrap"
odo_tmpdir
port=$(odo_free_port)

start_gpsfake() { # $1: tag
	mkfifo "$ODO_TMP/feed.$1"
	exec 3<>"$ODO_TMP/feed.$1"
	gpsfake -1 -i -q -c 0.02 -P "$port" "$log" <"$ODO_TMP/feed.$1" >"$ODO_TMP/gpsfake.$1" 2>&1 &
	GF=$!
	odo_track_pid "$GF"
}
wait_line() { # file pattern seconds
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}
# All of the log has reached the client: it has as many TPVs as gpsd 3.22
# produced for this log (its .chk). A count, not a pause: "gpsfake's output
# stopped growing for 2 s" (the rule before) also happens when gpsfake, a
# Python program, is starved of CPU by a parallel build, and stopping gpsd
# then cut the session short (seen in CI: "closed after 3 reports").
# Fewer TPVs after the time limit is left to compare.py to report.
drained() { # seconds
	local want i
	want=$(grep -c '"class":"TPV"' "$log.chk")
	for ((i = 0; i < $1 * 10; i++)); do
		[ "$(grep -c '^{' "$ODO_TMP/view.jsonl" 2>/dev/null)" -ge "$want" ] && { sleep 0.5; return 0; }
		sleep 0.1
	done
	echo "gps-e2e: after $1 s the client has $(grep -c '^{' "$ODO_TMP/view.jsonl") of $want TPVs" >&2
}
# gpsd (gpsfake's child) would keep the device for 60 s after the last
# sentence; stop it (gpsfake notices and exits).
stop_gpsd() {
	pkill -TERM -P "$GF" 2>/dev/null || true
	wait "$GF" 2>/dev/null || true
}
release() { # let gpsfake go: one newline per sentence
	sleep 1.5 # gpsd opens and probes the device once a client watches
	yes '' >&3 &
	YES=$!
	odo_track_pid "$YES"
}

if [ "$mode" = compare ]; then
	"$view" 127.0.0.1 "$port" 120 --exit-on-close --record "$ODO_TMP/rec" >"$ODO_TMP/view.jsonl" 2>"$ODO_TMP/view.err" &
	V=$!
	odo_track_pid "$V"
	start_gpsfake 1
	wait_line "$ODO_TMP/view.err" "connected 1" 20
	release
	drained 60
	stop_gpsd
	wait "$V"
	kill "$YES" 2>/dev/null || true
	cat "$ODO_TMP/view.err"
	python3 "$here/compare.py" "$log.chk" "$ODO_TMP/view.jsonl"
	# The session was recorded (gps.log); replaying it through libgps's
	# parser gives the same TPVs as the live session, byte for byte.
	"$view" --replay "$ODO_TMP/rec" >"$ODO_TMP/replay.jsonl"
	cmp "$ODO_TMP/view.jsonl" "$ODO_TMP/replay.jsonl" || { echo "FAIL: replayed TPVs differ from live ones"; diff "$ODO_TMP/view.jsonl" "$ODO_TMP/replay.jsonl" | head; exit 1; }
	echo "replay of the recorded session: $(wc -l <"$ODO_TMP/replay.jsonl") TPVs, identical to live"
else
	# Reconnect: play the log, kill gpsd (gpsfake) after the first fixes,
	# start a new gpsd on the same port, and expect fixes to resume.
	"$view" 127.0.0.1 "$port" 120 >"$ODO_TMP/view.jsonl" 2>"$ODO_TMP/view.err" &
	V=$!
	odo_track_pid "$V"
	start_gpsfake 1
	wait_line "$ODO_TMP/view.err" "connected 1" 20
	release
	wait_line "$ODO_TMP/view.jsonl" '"mode":3' 30
	n1=$(wc -l <"$ODO_TMP/view.jsonl")
	kill "$YES"
	stop_gpsd
	exec 3>&-
	sleep 1
	start_gpsfake 2
	wait_line "$ODO_TMP/view.err" "connected 2" 30
	release
	wait_line "$ODO_TMP/view.err" "connected 2" 1
	# fixes resume: at least as many TPVs again as a full play delivers
	full=$(grep -c '"class":"TPV"' "$log.chk")
	for ((i = 0; i < 600; i++)); do
		[ "$(wc -l <"$ODO_TMP/view.jsonl")" -ge $((n1 + full)) ] && break
		sleep 0.1
	done
	kill "$V" "$YES"
	wait "$V" 2>/dev/null || true
	stop_gpsd
	cat "$ODO_TMP/view.err"
	total=$(wc -l <"$ODO_TMP/view.jsonl")
	echo "before restart: $n1 TPVs; after: $((total - n1)) (a full play has $full)"
	[ "$total" -ge $((n1 + full)) ] || { echo "FAIL: fixes did not resume after gpsd restart"; exit 1; }
	# gps-view is stopped by a signal here (no stats line): count sessions
	[ "$(grep -c '^connected ' "$ODO_TMP/view.err")" -eq 2 ] || { echo "FAIL: expected exactly one reconnection"; exit 1; }
	tail -n "$full" "$ODO_TMP/view.jsonl" >"$ODO_TMP/second.jsonl"
	python3 "$here/compare.py" "$log.chk" "$ODO_TMP/second.jsonl"
fi
