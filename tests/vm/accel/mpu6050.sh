# accel_vm_mpu6050: i2c-stub emulates an MPU-6050 at 0x68; the agent wakes
# it, sets range/rate, and reads it live.
. /etc/odo/accel-common.sh
modprobe i2c-stub chip_addr=0x68
b=$(stub_bus)
i2cset -y "$b" 0x68 0x75 0x68 # WHO_AM_I
i2cset -y "$b" 0x68 0x6b 0x40 # PWR_MGMT_1 reset value: asleep
# ACCEL_XOUT_H..ACCEL_ZOUT_L, ±8 g: x 4096 (1 g), y -2048, z -32768 (full scale)
for r in 0x3b:0x10 0x3c:0x00 0x3d:0xf8 0x3e:0x00 0x3f:0x80 0x40:0x00; do
	i2cset -y "$b" 0x68 "${r%%:*}" "${r##*:}"
done
# GYRO_XOUT_H..GYRO_ZOUT_L, ±250 deg/s: x 1310 (10 deg/s), y -131 (-1 deg/s), z 0
for r in 0x43:0x05 0x44:0x1e 0x45:0xff 0x46:0x7d 0x47:0x00 0x48:0x00; do
	i2cset -y "$b" 0x68 "${r%%:*}" "${r##*:}"
done
accel-read /dev/i2c-$b auto 0 20 10 >/tmp/out.txt
cat /tmp/out.txt
grep -qx "chip mpu6050" /tmp/out.txt || fail "chip not detected as mpu6050"
[ "$(grep -c -x 'sample 9.8067 -4.9033 -78.4532 1' /tmp/out.txt)" -eq 20 ] || fail "converted values differ"
grep -q "errors=0 " /tmp/out.txt || fail "unexpected read errors"
expect_reg "$b" 0x68 0x6b 0x01 # awake, PLL clock
expect_reg "$b" 0x68 0x19 0x09 # SMPLRT_DIV: 1 kHz / 10 = 100 Hz
expect_reg "$b" 0x68 0x1c 0x10 # ACCEL_CONFIG: ±8 g
expect_reg "$b" 0x68 0x1b 0x00 # GYRO_CONFIG: ±250 deg/s
expect_reg "$b" 0x68 0x1a 0x03 # CONFIG: DLPF 42 Hz, the widest at most half of 100 Hz
# the gyroscope, read in the same burst (rad/s)
[ "$(grep -c -x 'gyro 0.17453 -0.01745 0.00000' /tmp/out.txt)" -eq 20 ] || fail "gyroscope values differ"
# Not saturated once z drops from full scale
i2cset -y "$b" 0x68 0x3f 0x10
accel-read /dev/i2c-$b mpu6050 0x68 5 5 >/tmp/out2.txt
grep -q -x 'sample 9.8067 -4.9033 9.8067 0' /tmp/out2.txt || { cat /tmp/out2.txt; fail "z = 4096 (1 g, not saturated) expected"; }
rc=0
accel-read /dev/i2c-$b mpu6050 0x69 5 2 >/tmp/wrong.txt || rc=$?
cat /tmp/wrong.txt
[ "$rc" -eq 3 ] || fail "open at an empty address should fail with status 3"

# (Read errors during sampling are covered by tests/unit/accel with a
# failing bus: i2c-stub cannot lose a chip while i2c-dev holds the adapter,
# and it does not enforce its `functionality` mask on transfers.)
echo "accel_vm_mpu6050: ok"
