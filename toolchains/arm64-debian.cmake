# Cross-compile odo for 64-bit ARM (aarch64) with Debian's cross toolchain
# (crossbuild-essential-arm64) and the multiarch :arm64 -dev packages that
# tools/bootstrap installs.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=toolchains/arm64-debian.cmake \
#         -DODO_BUILD_COLLECTOR=OFF
#
# Tests run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR) with the multiarch
# runtime (libc6:arm64); see debian-cross.cmake.
set(ODO_CROSS_TRIPLET aarch64-linux-gnu)
set(ODO_CROSS_PROCESSOR aarch64)
set(ODO_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
