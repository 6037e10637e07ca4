#!/usr/bin/env bash
# Link loss: while the producer runs, (1) the broker is stopped for a while
# and restarted, (2) the receiving side stops acknowledging for a while.
# Nothing is lost, the backlog drains (the driver exits only with an empty
# outbox), and the uplink counted the reconnect and the ack timeouts.
source "$(dirname "$0")/lib.sh"
store_setup dev-link
driver --count 3000 --rate 300 --ack-timeout 1.5 --inflight 4 2>>"$ODO_TMP/driver.log" &
DPID=$!
odo_track_pid "$DPID"
sleep 2
echo "broker down" >&2
odo_stop_mosquitto
sleep 4
echo "broker up" >&2
odo_restart_mosquitto
sleep 2
echo "collector stops acknowledging" >&2
kill -USR1 "$SINK_PID"
sleep 4
echo "collector acknowledges again" >&2
kill -USR2 "$SINK_PID"
for ((i = 0; i < 900; i++)); do
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$DPID" 2>/dev/null; then
	tail -20 "$ODO_TMP/driver.log" >&2
	odo_die "the backlog did not drain within 90 s"
fi
wait "$DPID" || odo_die "driver failed"
stats=$(grep 'produced up to' "$ODO_TMP/driver.log" | tail -1)
echo "$stats" >&2
reconnects=$(sed -n 's/.*reconnects \([0-9]*\),.*/\1/p' <<<"$stats")
timeouts=$(sed -n 's/.*ack timeouts \([0-9]*\).*/\1/p' <<<"$stats")
depth=$(sed -n 's/.*depth \([0-9]*\),.*/\1/p' <<<"$stats")
[ "${reconnects:-0}" -ge 1 ] || odo_die "expected at least one reconnect, got '$reconnects'"
[ "${timeouts:-0}" -ge 1 ] || odo_die "expected ack timeouts while the collector was silent, got '$timeouts'"
[ "$depth" = 0 ] || odo_die "outbox not empty: $depth"
sleep 0.5
sink_stop
python3 "$CHECK" "$PLOG" "$SINK_OUT" "$DEV"
