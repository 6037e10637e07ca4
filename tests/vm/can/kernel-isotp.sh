MODE=kernel
. /etc/odo/can-vm.sh
