#!/usr/bin/env bash
# No collector subscribed: the broker takes the batches and answers the
# MQTT 5 PUBACK reason 0x10 "No matching subscribers" (every collector
# restarting). The agent's uplink resends after nosub_retry (2 s, doubling)
# instead of waiting ack_timeout (60 s here): once a collector subscribes,
# the backlog drains long before any ack timeout, nothing lost.
source "$(dirname "$0")/lib.sh"
STORE_NO_SINK=1 store_setup dev-nosub
driver --count 300 --rate 100 --ack-timeout 60 --inflight 4 2>>"$ODO_TMP/driver.log" &
DPID=$!
odo_track_pid "$DPID"
sleep 4
grep -q "reached no collector (no matching subscribers): resending in 2.0 s" "$ODO_TMP/driver.log" ||
	{ cat "$ODO_TMP/driver.log" >&2; odo_die "the uplink did not notice that no collector received its batches"; }
echo "collector subscribes" >&2
sink_start
driver_drained "$DPID" 40 " (ack_timeout is 60 s)"
timeouts=$(driver_stat "ack timeouts")
nosub=$(driver_stat "no subscribers")
depth=$(driver_stat depth)
[ "${nosub:-0}" -ge 1 ] || odo_die "expected PUBACKs 'no matching subscribers', got '$nosub'"
[ "$timeouts" = 0 ] || odo_die "the resend came from the ack timeout ($timeouts), not from the broker's answer"
[ "$depth" = 0 ] || odo_die "outbox not empty: $depth"
sleep 0.5
sink_stop
python3 "$CHECK" "$PLOG" "$SINK_OUT" "$DEV"
