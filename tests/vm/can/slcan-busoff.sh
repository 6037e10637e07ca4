# Controller state on a real can-dev driver: the kernel's slcan (serial-line
# CAN) with slcan-sim as the adapter on a pty. vcan has no bitrate and no
# state; slcan has both (bitrate_const, state reports "sXRRRTTT" turned into
# can_change_state()/can_bus_off() by the driver), so this is where odo's
# bitrate check, bus-off detection and restart meet the kernel.
#
# 1. bitrate 500000 on the interface, 250000 configured: mismatch logged.
#    The adapter reports bus-off while obd-probe polls: bus-off logged and
#    counted once; restart_bus_off: slcan has no controller device (and no
#    do_set_mode: older kernels oops on IFLA_CAN_RESTART for it), so odo
#    takes the interface down and up without trying can_do_restart(); the
#    kernel says ERROR-ACTIVE again and answers flow again (the adapter's
#    ECU answers 1000 rpm x the number of opens). A second bus-off 1 s after
#    the first restart is restarted too, and the next gap doubles (backoff).
# 2. bus-off before start, restart_bus_off = false: detected by the state
#    poll, counted once over many polls, interface left alone (still BUS-OFF).
# 3. an slcan interface brought up without a bitrate: "not known" logged.
set -euo pipefail
fail() { echo "FAIL: $*"; for f in /tmp/sim.log /tmp/out.txt /tmp/err.txt; do echo "--- $f"; cat "$f" 2>/dev/null || true; done; exit 1; }
stat_of() { sed -n "s/^stats .* $2=\([0-9]*\).*/\1/p" "$1"; }

modprobe slcan
slcan-sim > /tmp/sim.log & sim=$!
for i in $(seq 50); do grep -q '^attached ' /tmp/sim.log && break; sleep 0.1; done
IF=$(sed -n 's/^attached //p' /tmp/sim.log)
[ -n "$IF" ] || fail "slcan-sim did not attach"
ip link set "$IF" type can bitrate 500000
ip link set "$IF" up
ip -details link show "$IF" | grep -q 'can state ERROR-ACTIVE' || fail "$IF not ERROR-ACTIVE after up"
ip -details link show "$IF" | grep -q 'bitrate 500000' || fail "$IF bitrate not 500000"
grep -qx 'cmd S6' /tmp/sim.log || fail "the driver did not send S6 (500 kbit/s) to the adapter"
grep -qx 'cmd O (open 1)' /tmp/sim.log || fail "the driver did not open the adapter"

# ---- 1: mismatch, bus-off while running, restart, frames again -------------
cat > /tmp/run.conf <<CONF
[can]
interface = $IF
isotp = kernel
poll = 0C:0.2,0D:0.2
request_timeout_s = 0.1
dtc_period_s = 3600
vin_retry_s = 3600
state_period_s = 0.5
bitrate = 250000
restart_bus_off = true
CONF
[ ! -e "/sys/class/net/$IF/device" ] || fail "$IF has a controller device: the premise of this test is wrong"
# The bus-offs follow the answers, not the clock: an emulated guest on a busy
# host may take seconds for what takes milliseconds alone.
answers() { grep -c "^rpm answer (open $1)" /tmp/sim.log || true; }
wait_answers() { # OPEN N: until the adapter answered N RPM requests since open OPEN (30 s at most)
	for i in $(seq 300); do [ "$(answers "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	fail "only $(answers "$1") RPM answers on open $1 (wanted $2)"
}
obd-probe --config /tmp/run.conf --seconds 60 > /tmp/out.txt 2> /tmp/err.txt & probe=$!
wait_answers 1 4
kill -USR1 $sim
wait_answers 2 1
kill -USR1 $sim
wait_answers 3 4
kill -INT $probe
wait $probe || fail "obd-probe exited non-zero"
echo "--- probe log"; cat /tmp/err.txt
grep -qx 'isotp=kernel' /tmp/out.txt || fail "not on kernel ISO-TP"
grep -q "$IF: bitrate 500000 bit/s, expected 250000" /tmp/err.txt || fail "no bitrate mismatch line"
grep -q "$IF: bus-off (1 times), state BUS-OFF$" /tmp/err.txt || fail "bus-off not logged"
grep -q "$IF: bus-off (2 times), state BUS-OFF$" /tmp/err.txt || fail "second bus-off not logged"
! grep -q "RTNETLINK answers" /tmp/err.txt || fail "IFLA_CAN_RESTART was sent to a driver without a restart callback"
grep -q "$IF: no controller device behind it" /tmp/err.txt || fail "no 'no controller device' line"
grep -q "$IF: controller restarted (interface down and up), state ERROR-ACTIVE; next restart no sooner than 1000 ms$" \
	/tmp/err.txt || fail "no first restart line"
grep -q "$IF: controller restarted (interface down and up), state ERROR-ACTIVE; next restart no sooner than 2000 ms$" \
	/tmp/err.txt || fail "the second restart did not double the gap"
[ "$(stat_of /tmp/out.txt bus_off)" = 2 ] || fail "bus_off counter is not 2"
[ "$(stat_of /tmp/out.txt restarts)" = 2 ] || fail "restarts counter is not 2"
[ "$(stat_of /tmp/out.txt malformed)" = 0 ] || fail "the restart's ENETDOWN was counted as malformed"
grep -q 'state bus-off' /tmp/sim.log && grep -qx 'cmd O (open 3)' /tmp/sim.log || fail "the adapter was not re-opened twice"
n1=$(grep -c '^obd ecu=7E8 pid=0C value=1000.000$' /tmp/out.txt || true)
n2=$(grep -c '^obd ecu=7E8 pid=0C value=2000.000$' /tmp/out.txt || true)
n3=$(grep -c '^obd ecu=7E8 pid=0C value=3000.000$' /tmp/out.txt || true)
[ "$n1" -ge 3 ] || fail "only $n1 RPM answers before the bus-off"
[ "$n2" -ge 1 ] || fail "no RPM answer between the two restarts"
[ "$n3" -ge 3 ] || fail "only $n3 RPM answers after the second restart"
last1=$(grep -n 'pid=0C value=1000.000$' /tmp/out.txt | tail -n1 | cut -d: -f1)
first2=$(grep -n 'pid=0C value=2000.000$' /tmp/out.txt | head -n1 | cut -d: -f1)
last2=$(grep -n 'pid=0C value=2000.000$' /tmp/out.txt | tail -n1 | cut -d: -f1)
first3=$(grep -n 'pid=0C value=3000.000$' /tmp/out.txt | head -n1 | cut -d: -f1)
[ "$last1" -lt "$first2" ] && [ "$last2" -lt "$first3" ] || fail "answers from before and after a restart interleave"
grep -q '^obd ecu=7E8 pid=0D value=8.333$' /tmp/out.txt || fail "no speed (30 km/h) after the second restart"
ip -details -statistics link show "$IF" > /tmp/ip.txt
grep -q 'LOWER_UP' /tmp/ip.txt && grep -q 'can state ERROR-ACTIVE' /tmp/ip.txt || { cat /tmp/ip.txt; fail "interface not back"; }
# the kernel's own bus-off counter agrees
awk '/re-started/{getline; if ($6 != 2) exit 1}' /tmp/ip.txt || { cat /tmp/ip.txt; fail "kernel bus-off count not 2"; }
echo "slcan 1: OK ($n1 answers before bus-off, $n2 between the restarts, $n3 after)"

# ---- 2: already bus-off at start, restart_bus_off = false -------------------
kill -USR1 $sim
for i in $(seq 50); do ip -details link show "$IF" | grep -q 'can state BUS-OFF' && break; sleep 0.1; done
ip -details link show "$IF" | grep -q 'can state BUS-OFF' || fail "adapter's bus-off not seen by the kernel"
sed -i 's/^bitrate = .*/bitrate = 500000/; s/^restart_bus_off = .*/restart_bus_off = false/; s/^state_period_s = .*/state_period_s = 0.2/' \
	/tmp/run.conf
obd-probe --config /tmp/run.conf --seconds 2 > /tmp/out.txt 2> /tmp/err.txt || fail "obd-probe exited non-zero"
echo "--- probe log"; cat /tmp/err.txt
grep -q "$IF: bitrate 500000 bit/s$" /tmp/err.txt || fail "no bitrate line"
! grep -q 'expected' /tmp/err.txt || fail "matching bitrate reported as a mismatch"
grep -q "$IF: bus-off (1 times), state BUS-OFF; restart_bus_off = false: not restarting it" /tmp/err.txt ||
	fail "bus-off at start not logged"
[ "$(stat_of /tmp/out.txt bus_off)" = 1 ] || fail "one bus-off counted $(stat_of /tmp/out.txt bus_off) times"
[ "$(stat_of /tmp/out.txt restarts)" = 0 ] || fail "restarted although restart_bus_off = false"
! grep -q '^obd ' /tmp/out.txt || fail "values from a bus-off controller"
! grep -q 'open 4' /tmp/sim.log || fail "the adapter was re-opened"
ip -details link show "$IF" | grep -q 'can state BUS-OFF' || fail "interface no longer BUS-OFF"
echo "slcan 2: OK"

# ---- 3: no bitrate given to the kernel ---------------------------------------
slcan-sim > /tmp/sim2.log & sim2=$!
for i in $(seq 50); do grep -q '^attached ' /tmp/sim2.log && break; sleep 0.1; done
IF2=$(sed -n 's/^attached //p' /tmp/sim2.log)
[ -n "$IF2" ] && [ "$IF2" != "$IF" ] || fail "second slcan-sim did not attach"
ip link set "$IF2" up
! grep -q '^cmd' /tmp/sim2.log || fail "commands sent to an adapter without a bitrate"
sed -i "s/^interface = .*/interface = $IF2/" /tmp/run.conf
obd-probe --config /tmp/run.conf --seconds 0.5 > /tmp/out.txt 2> /tmp/err.txt || fail "obd-probe exited non-zero"
grep -q "$IF2: bitrate not known to the kernel (set by the adapter), not checked" /tmp/err.txt || fail "unknown bitrate not logged"
kill $sim $sim2
echo "slcan bus-off/bitrate VM test: OK"
