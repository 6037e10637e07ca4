# Bus-load benchmark (label bench): vcan0 flooded by `cangen -g 0`; frames per
# second received and decoded by odo's receive path (obd-probe: raw socket,
# recvmmsg, SO_RXQ_OVFL, ISO-TP/OBD/DBC dispatch) against candump's rate on
# the same flood in the same VM, each measured alone for T seconds, then both
# at once. Kernel drops are reported for both (SO_RXQ_OVFL / candump -d).
set -euo pipefail
T=${T:-5}
ip link add dev vcan0 type vcan
ip link set vcan0 txqueuelen 1000
ip link set up vcan0
cat > /tmp/bench.conf <<'CONF'
[can]
interface = vcan0
isotp = user
poll = ""
dbc = /etc/odo/example.dbc
vehicle_speed = BODY_STATUS.VEHICLE_SPEED
airbag_deployed = SRS_STATUS.AIRBAG_DEPLOYED
CONF
cangen vcan0 -g 0 -i -I r -L 8 -D r & gen=$!
sleep 1

cd_run() {
	timeout "$T" candump -d vcan0 > /tmp/cd.txt || true
	cd_frames=$(grep -vc DROPCOUNT /tmp/cd.txt || true)
	cd_drops=$(grep DROPCOUNT /tmp/cd.txt | tail -n1 | sed 's/.*dropped \([0-9]*\).*/\1/' || true)
	cd_drops=${cd_drops:-0}
}
odo_run() {
	obd-probe --config /tmp/bench.conf --seconds "$T" --quiet > /tmp/odo.txt 2>/tmp/odo.err
	st=$(grep '^stats ' /tmp/odo.txt)
	odo_frames=$(echo "$st" | sed 's/.* frames=\([0-9]*\).*/\1/')
	odo_drops=$(echo "$st" | sed 's/.*kernel_drops=\([0-9]*\).*/\1/')
}

cd_run; a_cd=$cd_frames a_cdd=$cd_drops
odo_run; a_odo=$odo_frames a_odod=$odo_drops
# both at once, on the same frames
cd_run & cdpid=$!
odo_run
wait $cdpid || true
b_cd=$(grep -vc DROPCOUNT /tmp/cd.txt || true)
b_cdd=$(grep DROPCOUNT /tmp/cd.txt | tail -n1 | sed 's/.*dropped \([0-9]*\).*/\1/' || true); b_cdd=${b_cdd:-0}
b_odo=$odo_frames b_odod=$odo_drops
kill $gen 2>/dev/null || true
wait $gen 2>/dev/null || true
# paced at FleetWise's bar: 14414 frames/s = one frame every 0.0694 ms
cangen vcan0 -g 0.0694 -i -I r -L 8 -D r & gen=$!
sleep 1
cd_run; c_cd=$cd_frames c_cdd=$cd_drops
odo_run; c_odo=$odo_frames c_odod=$odo_drops
kill $gen 2>/dev/null || true

[ "$a_odo" -gt 0 ] && [ "$a_cd" -gt 0 ] || { echo "FAIL: nothing received (odo $a_odo, candump $a_cd)"; cat /tmp/odo.err; exit 1; }
awk -v T="$T" -v acd="$a_cd" -v acdd="$a_cdd" -v aodo="$a_odo" -v aodod="$a_odod" \
    -v bcd="$b_cd" -v bcdd="$b_cdd" -v bodo="$b_odo" -v bodod="$b_odod" \
    -v ccd="$c_cd" -v ccdd="$c_cdd" -v codo="$c_odo" -v codod="$c_odod" 'BEGIN {
	printf "BENCH | run | receiver | frames/s | kernel drops/s | ratio to candump |\n"
	printf "BENCH | alone | candump -d | %.0f | %.0f | 1.00 |\n", acd/T, acdd/T
	printf "BENCH | alone | odo vbus | %.0f | %.0f | %.2f |\n", aodo/T, aodod/T, aodo/acd
	printf "BENCH | together | candump -d | %.0f | %.0f | 1.00 |\n", bcd/T, bcdd/T
	printf "BENCH | together | odo vbus | %.0f | %.0f | %.2f |\n", bodo/T, bodod/T, (bcd ? bodo/bcd : 0)
	printf "BENCH | paced -g 0.0694 | candump -d | %.0f | %.0f | 1.00 |\n", ccd/T, ccdd/T
	printf "BENCH | paced -g 0.0694 | odo vbus | %.0f | %.0f | %.2f |\n", codo/T, codod/T, codo/ccd
	printf "BENCH | bar | FleetWise 4 x 80%% x 500 kbit/s | 14414 | - | - |\n"
}'
