# agent_sources_late (#17 item 2): the real odo-agent, live, configured for a
# CAN interface (vcan0) and an I2C accelerometer (LIS3DH on i2c-stub) that do
# not exist when it starts. It must run, say what is missing, and read each
# source once it appears: frames from odo-ecu-sim's ECUs in its recording's
# can.log, the chip's samples in its accel.csv. Then vcan0 is removed (an
# adapter unplugged) and created again: the agent notices both and reads the
# bus again. Nothing is restarted.
set -euo pipefail
. /etc/odo/accel-common.sh
A=/tmp/agent
mkdir -p "$A"
cat >"$A/agent.conf" <<CONF
[agent]
device_id = late-1
state_dir = $A/state
status_period_s = 1
gps = false
phone = false
uplink = false
accel = true
[can]
interface = vcan0
isotp = user
[accel]
# the VM has no other I2C adapter: i2c-stub becomes bus 0
device = /dev/i2c-0
chip = lis3dh
[store]
path = $A/outbox.db
CONF
log() { cat "$A/log"; }
# wait_log SECONDS PATTERN: until the agent's log has a line matching PATTERN
wait_log() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		grep -q "$2" "$A/log" && return 0
		kill -0 "$pid" 2>/dev/null || { log; fail "the agent exited"; }
		sleep 0.1
	done
	log
	fail "no '$2' in the agent's log within $1 s"
}
# count PATTERN FILE: lines matching (0 when the file is not there)
count() { if [ -f "$2" ]; then grep -c "$1" "$2" || true; else echo 0; fi; }

odo-agent -c "$A/agent.conf" --record "$A/rec" >"$A/log" 2>&1 &
pid=$!
wait_log 10 "running as late-1"
sleep 2
kill -0 "$pid" || { log; fail "the agent exited without its CAN interface and I2C bus"; }
grep -q "WARN can: vcan0: no CAN interface (No such device): running without the vehicle bus" "$A/log" ||
	{ log; fail "the missing CAN interface is not logged"; }
grep -q "WARN accel: /dev/i2c-0: No such file or directory: events come from the speed signal" "$A/log" ||
	{ log; fail "the missing I2C bus is not logged"; }
[ "$(grep -c "no CAN interface" "$A/log")" = 1 ] || { log; fail "the missing interface is logged more than once"; }
echo "ok: the agent runs without vcan0 and /dev/i2c-0, and says so once"

# The adapter appears, with ECUs on it.
ip link add dev vcan0 type vcan
ip link set up vcan0
odo-ecu-sim --iface vcan0 --scenario /etc/odo/scenario.txt --isotp user >/tmp/sim.log 2>&1 &
sim=$!
# The I2C bus appears, with a LIS3DH (registers as in tests/vm/accel/lis3dh.sh).
modprobe i2c-stub chip_addr=0x18
b=$(stub_bus)
[ "$b" = 0 ] || fail "i2c-stub is bus $b, not 0"
i2cset -y 0 0x18 0x0f 0x33
for r in 0x28:0xa0 0x29:0x0f 0x2a:0x30 0x2b:0xf8 0x2c:0xf0 0x2d:0x7f; do
	i2cset -y 0 0x18 "${r%%:*}" "${r##*:}"
	i2cset -y 0 0x18 "$(printf 0x%02x $((${r%%:*} | 0x80)))" "${r##*:}"
done
wait_log 40 "INFO can: vcan0: the CAN interface is there"
wait_log 40 "INFO accel: the accelerometer is there"
for i in $(seq 1 100); do
	[ "$(count '7E8#' "$A/rec/can.log")" -ge 5 ] && [ "$(count '^[0-9]' "$A/rec/accel.csv")" -ge 50 ] && break
	sleep 0.1
done
n_can=$(count '7E8#' "$A/rec/can.log")
n_acc=$(count '^[0-9]' "$A/rec/accel.csv")
[ "$n_can" -ge 5 ] || { log; fail "no ECU answers read from vcan0 after it appeared ($n_can)"; }
[ "$n_acc" -ge 50 ] || { log; fail "no accelerometer samples after the bus appeared ($n_acc)"; }
grep -q "PID discovery done" "$A/log" || { log; fail "OBD-II discovery did not run on the late interface"; }
# the chip's preloaded values: x 1 g, y -0.5 g (m/s^2 in accel.csv)
grep -q ",9.80665,-4.90332," "$A/rec/accel.csv" || grep -qE ",9\.806[0-9]*,-4\.903[0-9]*," "$A/rec/accel.csv" ||
	{ head -3 "$A/rec/accel.csv"; fail "the samples are not the chip's values"; }
echo "ok: vcan0 and the LIS3DH appeared and are read: $n_can ECU frames, $n_acc samples"

# The adapter is unplugged, then plugged in again.
kill "$sim"
wait "$sim" 2>/dev/null || true
ip link del dev vcan0
wait_log 20 "the CAN interface is gone"
kill -0 "$pid" || { log; fail "the agent exited when vcan0 went away"; }
before=$(count '7E8#' "$A/rec/can.log")
ip link add dev vcan0 type vcan
ip link set up vcan0
odo-ecu-sim --iface vcan0 --scenario /etc/odo/scenario.txt --isotp user >/tmp/sim2.log 2>&1 &
sim=$!
for i in $(seq 1 400); do
	[ "$(grep -c "the CAN interface is there" "$A/log")" -ge 2 ] && [ "$(count '7E8#' "$A/rec/can.log")" -gt "$before" ] && break
	sleep 0.1
done
[ "$(grep -c "the CAN interface is there" "$A/log")" -ge 2 ] || { log; fail "vcan0 not taken up again"; }
[ "$(count '7E8#' "$A/rec/can.log")" -gt "$before" ] || { log; fail "no frames read after vcan0 came back"; }
echo "ok: vcan0 removed and created again: the agent waited and reads it again"

kill -TERM "$pid"
wait "$pid" || { log; fail "the agent did not stop cleanly"; }
kill "$sim" 2>/dev/null || true
grep -E "can:|accel:" "$A/log" | head -20
echo "agent_sources_late: ok"
