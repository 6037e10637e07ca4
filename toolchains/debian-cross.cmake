# Shared part of the Debian multiarch toolchain files (arm64-debian.cmake,
# armhf-debian.cmake). They set ODO_CROSS_TRIPLET, ODO_CROSS_PROCESSOR and
# ODO_CROSS_QEMU and include this file. Not meant to be used on its own.
if(NOT ODO_CROSS_TRIPLET)
  message(FATAL_ERROR "use toolchains/arm64-debian.cmake or toolchains/armhf-debian.cmake")
endif()

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${ODO_CROSS_PROCESSOR})

# Debian's cross compilers: /usr/bin/<triplet>-gcc (crossbuild-essential-*).
set(CMAKE_C_COMPILER ${ODO_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${ODO_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${ODO_CROSS_TRIPLET})

# Multiarch: target headers and libraries are in /usr/include/<triplet> and
# /usr/lib/<triplet> (searched through CMAKE_LIBRARY_ARCHITECTURE below the
# root /usr), the toolchain's own runtime in /usr/<triplet>.
set(CMAKE_FIND_ROOT_PATH /usr/${ODO_CROSS_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config through Debian's triplet wrapper, which searches only the
# target's .pc directories (/usr/lib/<triplet>/pkgconfig, /usr/share/pkgconfig).
find_program(ODO_CROSS_PKG_CONFIG ${ODO_CROSS_TRIPLET}-pkg-config)
if(NOT ODO_CROSS_PKG_CONFIG)
  message(FATAL_ERROR "${ODO_CROSS_TRIPLET}-pkg-config not found: run tools/bootstrap "
    "(pkg-config and crossbuild-essential-* provide it)")
endif()
set(PKG_CONFIG_EXECUTABLE ${ODO_CROSS_PKG_CONFIG} CACHE FILEPATH "pkg-config for ${ODO_CROSS_TRIPLET}")

# Run the target's test executables under qemu-user. The target's own runtime
# comes from multiarch (libc6:<arch>, pulled in by the :<arch> -dev packages):
# its loader is at /lib/ld-linux-*.so.*, where the executables look, so no -L is
# needed. With `-L /usr/<triplet>` qemu would load the cross toolchain's libc
# (libc6-<arch>-cross, another Debian revision than libc6:<arch>) under the
# multiarch libraries, and there (qemu 7.2, glibc 2.36-8cross1 vs 2.36-9+deb12u14)
# a fork()ed child of a dynamically linked aarch64 program spins forever and an
# armhf child's exit status is lost; -L is only the fallback when the multiarch
# libc is not installed.
find_program(ODO_CROSS_QEMU_EXE ${ODO_CROSS_QEMU})
if(NOT ODO_CROSS_QEMU_EXE)
  message(FATAL_ERROR "${ODO_CROSS_QEMU} not found: run tools/bootstrap (qemu-user)")
endif()
if(EXISTS /usr/lib/${ODO_CROSS_TRIPLET}/libc.so.6)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ODO_CROSS_QEMU_EXE})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ODO_CROSS_QEMU_EXE} -L /usr/${ODO_CROSS_TRIPLET})
endif()
