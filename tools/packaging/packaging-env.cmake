# Read by cpack when it runs (CPACK_PROJECT_CONFIG_FILE): dpkg-shlibdeps takes
# the architecture it resolves libraries for (multiarch directories, the
# <triplet>-objdump) from DEB_HOST_ARCH, so a cross build's odo-agent gets the
# arm64/armhf libraries' versions, not the build machine's.
if(CPACK_DEBIAN_PACKAGE_ARCHITECTURE AND NOT CPACK_DEBIAN_PACKAGE_ARCHITECTURE STREQUAL "all")
  set(ENV{DEB_HOST_ARCH} "${CPACK_DEBIAN_PACKAGE_ARCHITECTURE}")
endif()
