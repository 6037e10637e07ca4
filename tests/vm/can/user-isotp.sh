MODE=user
. /etc/odo/can-vm.sh
