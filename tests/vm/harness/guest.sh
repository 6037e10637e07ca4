# Guest script for vm_harness_kernel (run by vm-run with bash -e).
ip link add dev vcan0 type vcan
ip link set up vcan0
modprobe i2c-stub chip_addr=0x1d
cancheck vcan0 /dev/i2c-0 0x1d
