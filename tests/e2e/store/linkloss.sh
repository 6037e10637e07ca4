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
driver_drained "$DPID" 90 ""
reconnects=$(driver_stat reconnects)
timeouts=$(driver_stat "ack timeouts")
depth=$(driver_stat depth)
[ "${reconnects:-0}" -ge 1 ] || odo_die "expected at least one reconnect, got '$reconnects'"
[ "${timeouts:-0}" -ge 1 ] || odo_die "expected ack timeouts while the collector was silent, got '$timeouts'"
[ "$depth" = 0 ] || odo_die "outbox not empty: $depth"
sleep 0.5
sink_stop
python3 "$CHECK" "$PLOG" "$SINK_OUT" "$DEV"
