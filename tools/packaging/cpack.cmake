# Debian packages through CPack: odo-agent (amd64, arm64, armhf) and
# odo-collector (amd64). `cmake --build BUILD --target package` (or `cpack`
# in the build directory) writes them; tests/e2e/packaging builds and checks
# the arm64 one under qemu-user.

# Debian architecture of what we build.
if(CMAKE_CROSSCOMPILING)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    set(ODO_DEB_ARCH arm64)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
    set(ODO_DEB_ARCH armhf)
  else()
    message(FATAL_ERROR "no Debian architecture known for ${CMAKE_SYSTEM_PROCESSOR}")
  endif()
else()
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE ODO_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

set(pkgdir ${CMAKE_CURRENT_LIST_DIR})

if(ODO_BUILD_AGENT)
  install(FILES ${pkgdir}/agent.conf DESTINATION /etc/odo COMPONENT agent)
  install(FILES ${pkgdir}/odo-agent.service DESTINATION /lib/systemd/system COMPONENT agent)
endif()
if(ODO_BUILD_COLLECTOR)
  install(FILES ${pkgdir}/collector.conf DESTINATION /etc/odo COMPONENT collector)
  install(FILES ${pkgdir}/odo-collector.service DESTINATION /lib/systemd/system COMPONENT collector)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/collector/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/odo/sql
          COMPONENT collector FILES_MATCHING PATTERN "*.sql")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME odo)
set(CPACK_PACKAGE_VENDOR "the odo authors")
set(CPACK_PACKAGE_CONTACT "odo maintainers <odo@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each component's description starts with its own summary line; an empty
# package summary keeps CPack from prepending the project's description to it.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
# Ship stripped binaries (the cross toolchain's strip when cross-compiling).
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${ODO_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/odo")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME odo-agent)
set(CPACK_COMPONENT_AGENT_DESCRIPTION "odo vehicle telematics agent\nReads GPS, OBD-II over CAN, an accelerometer and phone state, detects\ndriving events on the device and forwards them over MQTT/TLS.")
# Debian 12 sonames of what odo-agent links.
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS
    "libc6, libmosquitto1, libgps28, libsqlite3-0, libsocketcan2, libcbor0.8, adduser")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${pkgdir}/agent/conffiles;${pkgdir}/agent/postinst;${pkgdir}/agent/prerm;${pkgdir}/agent/postrm")

set(CPACK_DEBIAN_COLLECTOR_PACKAGE_NAME odo-collector)
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION "odo fleet collector\nIngests odo-agent batches from MQTT/TLS into PostgreSQL and aggregates\nmonthly driver features.")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "libc6, libmosquitto1, libpq5, libcbor0.8, adduser")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_CONTROL_EXTRA
    "${pkgdir}/collector/conffiles;${pkgdir}/collector/postinst;${pkgdir}/collector/prerm;${pkgdir}/collector/postrm")

set(components)
if(ODO_BUILD_AGENT)
  list(APPEND components agent)
endif()
if(ODO_BUILD_COLLECTOR)
  list(APPEND components collector)
endif()
set(CPACK_COMPONENTS_ALL ${components})
include(CPack)
