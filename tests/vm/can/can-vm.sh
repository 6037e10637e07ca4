# Common body of the CAN VM tests; sourced by the guest scripts with MODE set
# (kernel | user) and ADDR (11, the default, or 29). Runs odo-ecu-sim and
# obd-probe on vcan0 with garbage on the bus, then asserts what the probe
# printed. With ADDR=29 the scenario's ECUs 7E8/7E9/7EA become 18DAF110,
# 18DAF118 and 18DAF128 (requests 18DB33F1, flow control on 18DA10F1...),
# which odo labels F110, F118, F128 (the low 16 bits of the response id).
set -euo pipefail
ADDR=${ADDR:-11}
ip link show vcan0 > /dev/null 2>&1 || { ip link add dev vcan0 type vcan; ip link set up vcan0; }

fail() { echo "FAIL: $*"; echo "--- probe output"; cat /tmp/out.txt; exit 1; }

cp /etc/odo/can.conf /tmp/can.conf
echo "isotp = $MODE" >> /tmp/can.conf
echo "addressing = $ADDR" >> /tmp/can.conf
if [ "$ADDR" = 29 ]; then
	E1=F110 E2=F118 E3=F128 ID1=18DAF110 ID2=18DAF118 ID3=18DAF128 FC1=18DA10F1 JUNK="-e -I 18DAF1EB"
	awk 'BEGIN { m["7E8"] = "18DAF110"; m["7E9"] = "18DAF118"; m["7EA"] = "18DAF128" }
	     { for (i = 1; i <= NF; i++) if ($i in m) $i = m[$i]; print }' /etc/odo/scenario.txt > /tmp/scenario.txt
else
	E1=7E8 E2=7E9 E3=7EA ID1=7E8 ID2=7E9 ID3=7EA FC1=7E0 JUNK="-I 7EB"
	cp /etc/odo/scenario.txt /tmp/scenario.txt
fi

# Silence first: nobody answers; the loop must keep running, log and count timeouts.
obd-probe --config /tmp/can.conf --seconds 1.5 > /tmp/silent.txt 2>/tmp/silent.err ||
	{ cat /tmp/silent.err; echo "FAIL: obd-probe died on a silent bus"; exit 1; }
grep -q 'no ECU answered 01 00 within 300 ms' /tmp/silent.err || { cat /tmp/silent.err; echo "FAIL: no timeout log"; exit 1; }
sil=$(sed -n 's/^stats .*timeouts=\([0-9]*\).*/\1/p' /tmp/silent.txt)
[ "${sil:-0}" -ge 1 ] || { cat /tmp/silent.txt; echo "FAIL: timeouts not counted"; exit 1; }
! grep -q '^obd ' /tmp/silent.txt || { echo "FAIL: values on a silent bus"; exit 1; }

odo-ecu-sim --iface vcan0 --scenario /tmp/scenario.txt --isotp "$MODE" --start-on-request & sim=$!
# Garbage: random 29-bit frames, random payloads of random length from an OBD
# responder id no ECU uses, and truncated ISO-TP frames from the real ECUs' ids.
cangen vcan0 -e -g 4 -I r -L r -D r & gen1=$!
# shellcheck disable=SC2086 # JUNK is several options
cangen vcan0 -g 20 $JUNK -L r -D r & gen2=$!
( for i in $(seq 1 40); do cansend vcan0 $ID1#10; cansend vcan0 $ID2#0341; cansend vcan0 $ID3#21AA;
    cansend vcan0 7DA#1008; sleep 0.2; done ) & trunc=$!
sleep 0.3
obd-probe --config /tmp/can.conf --seconds 12 --record /tmp/rec.log > /tmp/out.txt 2>/tmp/err.txt ||
	{ cat /tmp/err.txt; fail "obd-probe exited non-zero"; }
kill $sim $gen1 $gen2 2>/dev/null || true
wait $trunc || true
echo "--- probe log (stderr)"; head -40 /tmp/err.txt

grep -qx "isotp=$MODE" /tmp/out.txt || fail "ISO-TP mode is not $MODE"

# RPM series from the engine ECU: many samples, non-decreasing ramp, ending at 3000.
awk -v e=$E1 '$1=="obd" && $2=="ecu="e && $3=="pid=0C"{split($4,a,"="); print a[2]}' /tmp/out.txt > /tmp/rpm
n=$(wc -l < /tmp/rpm)
[ "$n" -ge 15 ] || fail "only $n RPM samples"
awk 'NR>1 && $1+0 < prev-0.001 {bad=1} {prev=$1} END{exit bad}' /tmp/rpm || fail "RPM series not non-decreasing"
first=$(head -n1 /tmp/rpm); last=$(tail -n1 /tmp/rpm)
awk -v f="$first" 'BEGIN{exit !(f >= 800 && f < 2200)}' || fail "first RPM $first"
[ "$last" = "3000.000" ] || fail "last RPM $last, want 3000.000"
# Speed from both ECUs, ending at 72 km/h = 20 m/s.
for e in $E1 $E2; do
	awk -v e=$e '$1=="obd" && $2=="ecu="e && $3=="pid=0D"{split($4,a,"="); print a[2]}' /tmp/out.txt > /tmp/spd
	[ "$(wc -l < /tmp/spd)" -ge 15 ] || fail "few speed samples from $e"
	awk 'NR>1 && $1+0 < prev-0.001 {bad=1} {prev=$1} END{exit bad}' /tmp/spd || fail "speed from $e not non-decreasing"
	[ "$(tail -n1 /tmp/spd)" = "20.000" ] || fail "last speed from $e: $(tail -n1 /tmp/spd)"
done
grep -q "^obd ecu=$E1 pid=05 " /tmp/out.txt || fail "no coolant"
grep -q "^obd ecu=$E1 pid=11 " /tmp/out.txt || fail "no throttle"
grep -q "^obd ecu=$E1 pid=1F " /tmp/out.txt || fail "no run time"
grep -q "^obd ecu=$E1 pid=21 value=12000.000$" /tmp/out.txt || fail "no distance with MIL (12 km)"
grep -q "^obd ecu=$E1 pid=2F " /tmp/out.txt || fail "no fuel level"
! grep -q "^obd ecu=$E3 pid=2F" /tmp/out.txt || fail "$E3 answered 2F negatively, yet a value appeared"
# DTCs, VIN (multi-frame: flow control from odo's side).
grep -qx "dtc ecu=$E1 mil=1 stored=P0301,P0420 pending= permanent=P0301 airbag=0" /tmp/out.txt || fail "$E1 DTCs"
grep -qx "dtc ecu=$E2 mil=0 stored= pending=P0700 permanent= airbag=0" /tmp/out.txt || fail "$E2 DTCs"
grep -qx "vin ecu=$E1 vin=1HGCM82633A004352" /tmp/out.txt || fail "VIN"
# Our flow control for the VIN's first frame went out on the ECU's physical
# request id (the kernel's or the userspace ISO-TP's, seen by the raw socket).
grep -q " vcan0 $FC1#300000" /tmp/rec.log || fail "no flow control frame on $FC1 in the recording"
if [ "$MODE" = kernel ] && [ "$ADDR" = 29 ]; then
	grep -q "ECU 18DAF110: kernel ISO-TP, flow control on 18DA10F1" /tmp/err.txt || fail "no kernel ISO-TP socket for 18DAF110"
fi
# Counters: negative response seen, malformed frames counted, loop alive to the end.
stats=$(grep '^stats ' /tmp/out.txt) || fail "no stats line"
echo "$stats"
neg=$(echo "$stats" | sed 's/.*negative=\([0-9]*\).*/\1/')
mal=$(echo "$stats" | sed 's/.*malformed=\([0-9]*\).*/\1/')
[ "$neg" -ge 1 ] || fail "negative response not counted"
[ "$mal" -ge 1 ] || fail "truncated frames not counted as malformed"
grep -q 'negative response to service 01: NRC 31 requestOutOfRange' /tmp/err.txt || fail "no NRC log line"

# The recording replays through the same decoding to the same RPM series and DTC/VIN lines.
obd-probe --config /tmp/can.conf --replay /tmp/rec.log > /tmp/replay.txt 2>/dev/null
awk -v e=$E1 '$1=="obd" && $2=="ecu="e && $3=="pid=0C"{split($4,a,"="); print a[2]}' /tmp/replay.txt > /tmp/rpm2
if [ "$MODE" = user ]; then
	cmp /tmp/rpm /tmp/rpm2 || fail "replayed RPM series differs"
else
	# Kernel ISO-TP: live decodes the kernel socket's messages, the replay
	# the raw frames the recording holds, which the raw socket may stamp a
	# little later (docs/inputs.md, "Replay equals live"): an answer that
	# straddles its request's timeout is solicited live and not in the
	# replay. So: the replayed series is the live one in order, less at
	# most the answers the replay counted unsolicited beyond live.
	unsol() { sed -n 's/^stats .*unsolicited=\([0-9]*\).*/\1/p' "$1"; }
	extra=$(( $(unsol /tmp/replay.txt) - $(unsol /tmp/out.txt) ))
	awk -v extra="$extra" 'BEGIN { i = 0; n = 0; m = 0 } NR == FNR { live[n++] = $1; next }
		{ while (i < n && live[i] != $1) i++; if (i == n) bad = 1; else i++; m++ }
		END { printf "replayed %d of %d live RPM values, %d answers more unsolicited\n", m, n, extra
		      exit !(!bad && n - m >= 0 && n - m <= (extra > 0 ? extra : 0)) }' /tmp/rpm /tmp/rpm2 ||
		fail "replayed RPM series is not the live one"
fi
grep -qx "vin ecu=$E1 vin=1HGCM82633A004352" /tmp/replay.txt || fail "replay: VIN"
grep -qx "dtc ecu=$E1 mil=-1 stored=P0301,P0420 pending= permanent=P0301 airbag=0" /tmp/replay.txt ||
	grep -qx "dtc ecu=$E1 mil=1 stored=P0301,P0420 pending= permanent=P0301 airbag=0" /tmp/replay.txt || fail "replay: DTCs"
echo "CAN VM test ($MODE ISO-TP, $ADDR-bit): OK, $n RPM samples"
