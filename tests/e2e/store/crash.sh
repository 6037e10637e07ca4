#!/usr/bin/env bash
# Crash safety: the producer (outbox + uplink in the poll loop) is SIGKILLed
# at random moments KILLS times in a row (default 50) and restarted each
# time; then it runs to completion. Every record produced must reach the
# receiving side exactly once after dedup by (device, seq), none missing,
# no sequence number reused.
source "$(dirname "$0")/lib.sh"
KILLS=${ODO_STORE_KILLS:-50}
store_setup dev-crash
RANDOM=${ODO_STORE_SEED:-7}
for ((k = 1; k <= KILLS; k++)); do
	driver --count 100000000 --rate 400 --ack-timeout 2 --seed "$k" 2>>"$ODO_TMP/driver.log" &
	pid=$!
	# 50..800 ms: before connect, during the TLS handshake, mid-batch, mid-commit.
	sleep "$(printf '0.%03d' $((50 + RANDOM % 750)))"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
done
final=$(($(produced_max) + 300))
echo "after $KILLS kills: $(produced_max) records produced; final run to $final" >&2
driver_run 120 --count "$final" --rate 400 --ack-timeout 2
tail -1 "$ODO_TMP/driver.log" >&2
sleep 0.5
sink_stop
python3 "$CHECK" "$PLOG" "$SINK_OUT" "$DEV" --kills "$KILLS"
