#!/usr/bin/env bash
# gps_gpsd_late (#17 item 2): the real odo-agent starts live with no gpsd on its
# port; it must keep running, say so once, and take gpsd up when it appears
# (gpsfake playing a receiver's log): TPV reports in its recording's gps.log.
# Usage: late.sh ODO_AGENT GPSD_LOG
set -euo pipefail
AGENT=${1:?usage: late.sh ODO_AGENT GPSD_LOG}
GLOG=${2:?usage: late.sh ODO_AGENT GPSD_LOG}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
T=$ODO_TMP
fail() { printf 'FAIL: %s\n' "$*" >&2; cat "$T/agent.log" >&2; exit 1; }
port=$(odo_free_port)
cat >"$T/agent.conf" <<CONF
[agent]
device_id = late-gps
state_dir = $T/state
gps = true
accel = false
phone = false
uplink = false
[can]
enabled = false
[gps]
host = 127.0.0.1
port = $port
reconnect_max_ms = 2000
[store]
path = $T/outbox.db
CONF
"$AGENT" -c "$T/agent.conf" --record "$T/rec" >"$T/agent.log" 2>&1 &
pid=$!
odo_track_pid "$pid"
sleep 3
kill -0 "$pid" || fail "the agent exited without gpsd"
grep -q "WARN gps: gpsd 127.0.0.1:$port not reachable" "$T/agent.log" || fail "the missing gpsd is not logged"
[ "$(grep -c "not reachable" "$T/agent.log")" = 1 ] || fail "the missing gpsd is logged more than once"
[ ! -s "$T/rec/gps.log" ] || fail "GPS data before gpsd was there"
echo "ok: the agent runs without gpsd and says so once"
# gpsd appears
gpsfake -1 -q -P "$port" -c 0.1 "$GLOG" >"$T/gpsfake.log" 2>&1 &
odo_track_pid $!
for i in $(seq 1 150); do
	grep -q "INFO gps: connected to gpsd 127.0.0.1:$port" "$T/agent.log" && [ "$(grep -c '"class":"TPV"' "$T/rec/gps.log" 2>/dev/null || echo 0)" -ge 3 ] && break
	sleep 0.1
done
grep -q "INFO gps: connected to gpsd 127.0.0.1:$port" "$T/agent.log" || fail "gpsd not taken up when it appeared"
n=$(grep -c '"class":"TPV"' "$T/rec/gps.log" 2>/dev/null || echo 0)
[ "$n" -ge 3 ] || fail "no TPV reports read after gpsd appeared ($n)"
kill -0 "$pid" || fail "the agent exited"
kill -TERM "$pid"
wait "$pid" || fail "the agent did not stop cleanly"
echo "ok: gpsd appeared late and was read: $n TPV reports"
