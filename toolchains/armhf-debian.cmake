# Cross-compile odo for 32-bit ARM hard-float (ARMv7, EABI5) with Debian's
# cross toolchain (crossbuild-essential-armhf) and the multiarch :armhf -dev
# packages that tools/bootstrap installs.
#
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=toolchains/armhf-debian.cmake \
#         -DODO_BUILD_COLLECTOR=OFF
#
# Tests run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR) with the multiarch
# runtime (libc6:armhf); see debian-cross.cmake.
set(ODO_CROSS_TRIPLET arm-linux-gnueabihf)
set(ODO_CROSS_PROCESSOR armv7l)
set(ODO_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
