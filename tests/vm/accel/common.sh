# Helpers for the accelerometer VM tests (sourced by the guest scripts).
fail() { echo "FAIL: $*"; exit 1; }
# The i2c-dev bus number of the i2c-stub adapter.
stub_bus() {
	local d
	for d in /sys/class/i2c-dev/i2c-*; do
		grep -qi stub "$d/name" && { basename "$d" | sed 's/i2c-//'; return 0; }
	done
	fail "no i2c-stub adapter (modprobe i2c-stub?)"
}
expect_reg() { # bus addr reg want
	local v
	v=$(i2cget -y "$1" "$2" "$3" b)
	[ "$v" = "$4" ] || fail "register $3 of $2 is $v, want $4"
	echo "register $3 = $v ok"
}
