# accel_vm_lis3dh: i2c-stub emulates a LIS3DH at 0x18 (registers preloaded
# with busybox i2cset); the agent's accelerometer source reads it live.
. /etc/odo/accel-common.sh
modprobe i2c-stub chip_addr=0x18
b=$(stub_bus)
echo "i2c-stub on bus $b"
i2cset -y "$b" 0x18 0x0f 0x33 # WHO_AM_I
# OUT_X_L..OUT_Z_H, ±8 g: x +250 (1 g), y -125 (-0.5 g), z +2047 (full scale).
# The driver reads them in one I2C block read from 0x28|0x80 (LIS3DH
# auto-increment); i2c-stub has no such notion and serves registers
# 0xA8..0xAD for that read, so the chip's answer is preloaded there.
for r in 0x28:0xa0 0x29:0x0f 0x2a:0x30 0x2b:0xf8 0x2c:0xf0 0x2d:0x7f; do
	i2cset -y "$b" 0x18 "${r%%:*}" "${r##*:}"
	i2cset -y "$b" 0x18 "$(printf 0x%02x $((${r%%:*} | 0x80)))" "${r##*:}"
done
accel-read /dev/i2c-$b auto 0 20 10 >/tmp/out.txt
cat /tmp/out.txt
grep -qx "chip lis3dh" /tmp/out.txt || fail "chip not detected as lis3dh"
grep -qx "reads block" /tmp/out.txt || fail "i2c-stub offers I2C block reads: expected block reads"
[ "$(grep -c '^sample ' /tmp/out.txt)" -eq 20 ] || fail "want 20 samples"
[ "$(grep -c -x 'sample 9.8067 -4.9033 80.2969 1' /tmp/out.txt)" -eq 20 ] || fail "converted values differ"
grep -q "errors=0 " /tmp/out.txt || fail "unexpected read errors"
expect_reg "$b" 0x18 0x20 0x57 # CTRL_REG1: 100 Hz, X/Y/Z on
expect_reg "$b" 0x18 0x23 0xa8 # CTRL_REG4: BDU, ±8 g, high resolution
# Wrong address: no chip answers there; the open fails with a clear error.
accel-read /dev/i2c-$b lis3dh 0x19 5 2 >/tmp/wrong.txt || rc=$?
cat /tmp/wrong.txt
[ "${rc:-0}" -eq 3 ] || fail "open at an empty address should fail with status 3"
grep -q "open failed: " /tmp/wrong.txt || fail "no error message"
# A chip that is not a LIS3DH (WHO_AM_I differs) is refused too.
i2cset -y "$b" 0x18 0x0f 0x32
rc=0
accel-read /dev/i2c-$b lis3dh 0x18 5 2 >/tmp/notlis.txt || rc=$?
[ "$rc" -eq 3 ] || fail "a chip with WHO_AM_I 0x32 must not be taken for a LIS3DH"
# An adapter without I2C block reads (i2c-stub's functionality mask:
# quick, byte, byte-data, word-data only): the source sees it through
# I2C_FUNCS and reads the six data registers byte by byte, same values.
rmmod i2c-stub
modprobe i2c-stub chip_addr=0x18 functionality=0x007f0000
b=$(stub_bus)
i2cset -y "$b" 0x18 0x0f 0x33
for r in 0x28:0xa0 0x29:0x0f 0x2a:0x30 0x2b:0xf8 0x2c:0xf0 0x2d:0x7f; do
	i2cset -y "$b" 0x18 "${r%%:*}" "${r##*:}"
done
accel-read /dev/i2c-$b lis3dh 0x18 20 10 >/tmp/byte.txt
grep -v '^sample' /tmp/byte.txt
grep -qx "reads byte" /tmp/byte.txt || fail "adapter without block reads not detected"
[ "$(grep -c -x 'sample 9.8067 -4.9033 80.2969 1' /tmp/byte.txt)" -eq 20 ] || fail "byte-wise values differ"
echo "accel_vm_lis3dh: ok"
