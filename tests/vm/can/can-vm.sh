# Common body of the CAN VM tests; sourced by the guest scripts with MODE set
# (kernel | user). Runs odo-ecu-sim and obd-probe on vcan0 with garbage on the
# bus, then asserts what the probe printed.
set -euo pipefail
ip link add dev vcan0 type vcan
ip link set up vcan0

fail() { echo "FAIL: $*"; echo "--- probe output"; cat /tmp/out.txt; exit 1; }

cp /etc/odo/can.conf /tmp/can.conf
echo "isotp = $MODE" >> /tmp/can.conf

# Silence first: nobody answers; the loop must keep running, log and count timeouts.
obd-probe --config /tmp/can.conf --seconds 1.5 > /tmp/silent.txt 2>/tmp/silent.err ||
	{ cat /tmp/silent.err; echo "FAIL: obd-probe died on a silent bus"; exit 1; }
grep -q 'no ECU answered 01 00 within 100 ms' /tmp/silent.err || { cat /tmp/silent.err; echo "FAIL: no timeout log"; exit 1; }
sil=$(sed -n 's/^stats .*timeouts=\([0-9]*\).*/\1/p' /tmp/silent.txt)
[ "${sil:-0}" -ge 1 ] || { cat /tmp/silent.txt; echo "FAIL: timeouts not counted"; exit 1; }
! grep -q '^obd ' /tmp/silent.txt || { echo "FAIL: values on a silent bus"; exit 1; }

odo-ecu-sim --iface vcan0 --scenario /etc/odo/scenario.txt --isotp "$MODE" & sim=$!
# Garbage: random 29-bit frames, random payloads of random length from an OBD
# responder id no ECU uses, and truncated ISO-TP frames from the real ECUs' ids.
cangen vcan0 -e -g 4 -I r -L r -D r & gen1=$!
cangen vcan0 -g 20 -I 7EB -L r -D r & gen2=$!
( for i in $(seq 1 40); do cansend vcan0 7E8#10; cansend vcan0 7E9#0341; cansend vcan0 7EA#21AA;
    cansend vcan0 7DA#1008; sleep 0.2; done ) & trunc=$!
sleep 0.3
obd-probe --config /tmp/can.conf --seconds 9 --record /tmp/rec.log > /tmp/out.txt 2>/tmp/err.txt ||
	{ cat /tmp/err.txt; fail "obd-probe exited non-zero"; }
kill $sim $gen1 $gen2 2>/dev/null || true
wait $trunc || true
echo "--- probe log (stderr)"; head -40 /tmp/err.txt

grep -qx "isotp=$MODE" /tmp/out.txt || fail "ISO-TP mode is not $MODE"

# RPM series from 7E8: many samples, non-decreasing ramp, ending at 3000.
awk '/^obd ecu=7E8 pid=0C /{split($4,a,"="); print a[2]}' /tmp/out.txt > /tmp/rpm
n=$(wc -l < /tmp/rpm)
[ "$n" -ge 15 ] || fail "only $n RPM samples"
awk 'NR>1 && $1+0 < prev-0.001 {bad=1} {prev=$1} END{exit bad}' /tmp/rpm || fail "RPM series not non-decreasing"
first=$(head -n1 /tmp/rpm); last=$(tail -n1 /tmp/rpm)
awk -v f="$first" 'BEGIN{exit !(f >= 800 && f < 2200)}' || fail "first RPM $first"
[ "$last" = "3000.000" ] || fail "last RPM $last, want 3000.000"
# Speed from both ECUs, ending at 72 km/h = 20 m/s.
for e in 7E8 7E9; do
	awk -v e=$e '$1=="obd" && $2=="ecu="e && $3=="pid=0D"{split($4,a,"="); print a[2]}' /tmp/out.txt > /tmp/spd
	[ "$(wc -l < /tmp/spd)" -ge 15 ] || fail "few speed samples from $e"
	awk 'NR>1 && $1+0 < prev-0.001 {bad=1} {prev=$1} END{exit bad}' /tmp/spd || fail "speed from $e not non-decreasing"
	[ "$(tail -n1 /tmp/spd)" = "20.000" ] || fail "last speed from $e: $(tail -n1 /tmp/spd)"
done
grep -q '^obd ecu=7E8 pid=05 ' /tmp/out.txt || fail "no coolant"
grep -q '^obd ecu=7E8 pid=11 ' /tmp/out.txt || fail "no throttle"
grep -q '^obd ecu=7E8 pid=1F ' /tmp/out.txt || fail "no run time"
grep -q '^obd ecu=7E8 pid=21 value=12000.000$' /tmp/out.txt || fail "no distance with MIL (12 km)"
grep -q '^obd ecu=7E8 pid=2F ' /tmp/out.txt || fail "no fuel level"
! grep -q '^obd ecu=7EA pid=2F' /tmp/out.txt || fail "7EA answered 2F negatively, yet a value appeared"
# DTCs, VIN.
grep -qx 'dtc ecu=7E8 mil=1 stored=P0301,P0420 pending= permanent=P0301 airbag=0' /tmp/out.txt || fail "7E8 DTCs"
grep -qx 'dtc ecu=7E9 mil=0 stored= pending=P0700 permanent= airbag=0' /tmp/out.txt || fail "7E9 DTCs"
grep -qx 'vin ecu=7E8 vin=1HGCM82633A004352' /tmp/out.txt || fail "VIN"
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
awk '/^obd ecu=7E8 pid=0C /{split($4,a,"="); print a[2]}' /tmp/replay.txt > /tmp/rpm2
cmp /tmp/rpm /tmp/rpm2 || fail "replayed RPM series differs"
grep -qx 'vin ecu=7E8 vin=1HGCM82633A004352' /tmp/replay.txt || fail "replay: VIN"
grep -qx 'dtc ecu=7E8 mil=-1 stored=P0301,P0420 pending= permanent=P0301 airbag=0' /tmp/replay.txt ||
	grep -qx 'dtc ecu=7E8 mil=1 stored=P0301,P0420 pending= permanent=P0301 airbag=0' /tmp/replay.txt || fail "replay: DTCs"
echo "CAN VM test ($MODE ISO-TP): OK, $n RPM samples"
