# can_vm_replay_equals_live: record a live drive on vcan0 against
# odo-ecu-sim, in which the engine ECU goes silent in the middle of its VIN
# (the ISO-TP receive timeout N_Cr fires live), then replay the recording:
# the replay's records are byte-identical to the live run's (--emit lines:
# seq, kind, time, time source, CBOR). On the old loop, which never ticked
# the CAN source in replay and ran timers only after items, they were not.
set -euo pipefail
ip link add dev vcan0 type vcan
ip link set up vcan0
fail() {
	echo "FAIL: $*"
	for f in /tmp/live.log /tmp/replay.log; do echo "--- $f"; tail -30 "$f"; done
	# the evidence, to the host (build/tests/vm/can/replay-live-out)
	echo "--- meta.conf"; cat /tmp/rec/meta.conf
	echo "--- can.log"; head -4 /tmp/rec/can.log
	cp -r /tmp/rec /tmp/live.txt /tmp/replay.txt /tmp/live.log /tmp/replay.log /mnt/host/ || true
	exit 1
}

conf() {
	cat >"$1" <<CONF
[agent]
device_id = vm-replay
state_dir = $2/state
status_period_s = 86400
gps = false
accel = false
phone = false
uplink = false
[can]
interface = vcan0
isotp = user
poll = 0C:0.2,0D:0.2,05:1
request_timeout_s = 0.2
dtc_period_s = 3
vin_retry_s = 2
[engine]
sample_period_s = 1
[store]
path = $2/outbox.db
CONF
}
mkdir -p /tmp/live /tmp/replay
conf /tmp/live.conf /tmp/live
conf /tmp/replay.conf /tmp/replay

odo-ecu-sim --iface vcan0 --scenario /etc/odo/replay-live.txt --isotp user 2>/tmp/sim.log & sim=$!
sleep 0.5
odo-agent -c /tmp/live.conf --no-uplink --record /tmp/rec --emit /tmp/live.txt 2>/tmp/live.log & agent=$!
sleep 14
kill -TERM $agent
wait $agent || fail "live agent exited $?"
kill $sim; wait $sim || true
cat /tmp/sim.log

odo-agent -c /tmp/replay.conf --no-uplink --replay /tmp/rec --emit /tmp/replay.txt 2>/tmp/replay.log ||
	fail "replay exited $?"

# The live drive is what the test claims it is.
grep -q 'ISO-TP 7E8: consecutive frame timeout (N_Cr)' /tmp/live.log || fail "no N_Cr timeout live"
grep -q 'stalls for 3.0 s' /tmp/sim.log && grep -q 'resumes' /tmp/sim.log || fail "the ECU did not stall and resume"
kinds() { awk '{print $2}' "$1" | sort | uniq -c | tr -s ' \n' ' '; }
echo "live:   $(wc -l </tmp/live.txt) records: $(kinds /tmp/live.txt)"
echo "replay: $(wc -l </tmp/replay.txt) records: $(kinds /tmp/replay.txt)"
for k in trip_start sample dtc vehicle trip_end; do
	grep -q "^[0-9]* $k " /tmp/live.txt || fail "no $k record live"
done
[ "$(grep -c ' vehicle ' /tmp/live.txt)" = 1 ] || fail "live: the stalled VIN made a VEHICLE record"
# The replay meets the same timeout at the same instant, and makes the same records.
grep -q 'ISO-TP 7E8: consecutive frame timeout (N_Cr)' /tmp/replay.log || fail "no N_Cr timeout in the replay"
if ! cmp /tmp/live.txt /tmp/replay.txt; then
	cut -d' ' -f1-4 /tmp/live.txt >/tmp/live.head
	cut -d' ' -f1-4 /tmp/replay.txt >/tmp/replay.head
	diff /tmp/live.head /tmp/replay.head | head -20 || true
	fail "the replay's records differ from the live run's"
fi
grep -q '^end = ' /tmp/rec/meta.conf || fail "the recording has no end"
echo "replay equals live: OK"
