# can_vm_kernel_isotp with 29-bit identifiers: requests on 18DB33F1, ECUs
# answering on 18DAF1xx, kernel ISO-TP flow control on 18DAxxF1.
MODE=kernel ADDR=29
. /etc/odo/can-vm.sh
