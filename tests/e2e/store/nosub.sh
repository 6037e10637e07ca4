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
for ((i = 0; i < 400; i++)); do # 40 s: less than ack_timeout
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$DPID" 2>/dev/null; then
	tail -20 "$ODO_TMP/driver.log" >&2
	odo_die "the backlog did not drain within 40 s (ack_timeout is 60 s)"
fi
wait "$DPID" || odo_die "driver failed"
stats=$(grep 'produced up to' "$ODO_TMP/driver.log" | tail -1)
echo "$stats" >&2
timeouts=$(sed -n 's/.*ack timeouts \([0-9]*\),.*/\1/p' <<<"$stats")
nosub=$(sed -n 's/.*no subscribers \([0-9]*\).*/\1/p' <<<"$stats")
depth=$(sed -n 's/.*depth \([0-9]*\),.*/\1/p' <<<"$stats")
[ "${nosub:-0}" -ge 1 ] || odo_die "expected PUBACKs 'no matching subscribers', got '$nosub'"
[ "$timeouts" = 0 ] || odo_die "the resend came from the ack timeout ($timeouts), not from the broker's answer"
[ "$depth" = 0 ] || odo_die "outbox not empty: $depth"
sleep 0.5
sink_stop
python3 "$CHECK" "$PLOG" "$SINK_OUT" "$DEV"
