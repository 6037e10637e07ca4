# Debian packages through CPack: odo-agent (amd64, arm64, armhf),
# odo-collector (amd64) and odo-broker (all: the mosquitto policy, odo-pki and
# the daily CRL renewal). `cmake --build BUILD --target package` (or `cpack`
# in the build directory) writes them; tests/e2e/packaging builds, unpacks,
# lintian-checks and runs them.

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
# The broker package is architecture-independent: built with the server side.
set(ODO_BUILD_BROKER_PKG ${ODO_BUILD_COLLECTOR})

# /usr/share/doc/<package>: copyright (Debian policy 12.5) and changelog.gz
# (12.7), compressed with gzip -9n as dh_compress does. The changelog's top
# entry must be this version.
file(STRINGS ${pkgdir}/changelog ODO_CHANGELOG_TOP LIMIT_COUNT 1)
if(NOT ODO_CHANGELOG_TOP MATCHES "^odo \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "tools/packaging/changelog starts with '${ODO_CHANGELOG_TOP}', not version ${PROJECT_VERSION}")
endif()
set(ODO_CHANGELOG_GZ ${CMAKE_CURRENT_BINARY_DIR}/packaging/changelog.gz)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9nc ${pkgdir}/changelog OUTPUT_FILE ${ODO_CHANGELOG_GZ} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "gzip of tools/packaging/changelog failed")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${pkgdir}/changelog)

# Configuration files hold paths to keys and the database: 0640 from the
# package on (postinst gives them the odo group, which exists only then).
set(ODO_CONF_MODE OWNER_READ OWNER_WRITE GROUP_READ)
set(ODO_EXEC_MODE OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

macro(odo_package_docs component package)
  install(FILES ${pkgdir}/copyright ${ODO_CHANGELOG_GZ}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
endmacro()

# Manual pages, gzip -9n like the changelog: odo_package_man(COMPONENT PAGE.SECTION).
macro(odo_package_man component page)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  execute_process(COMMAND gzip -9nc ${pkgdir}/man/${page} OUTPUT_FILE ${CMAKE_CURRENT_BINARY_DIR}/packaging/${page}.gz
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "gzip of tools/packaging/man/${page} failed")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${pkgdir}/man/${page})
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/packaging/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section}
          COMPONENT ${component})
endmacro()

if(ODO_BUILD_AGENT)
  install(FILES ${pkgdir}/agent.conf DESTINATION /etc/odo PERMISSIONS ${ODO_CONF_MODE} COMPONENT agent)
  install(FILES ${pkgdir}/odo-agent.service DESTINATION /lib/systemd/system COMPONENT agent)
  odo_package_docs(agent odo-agent)
  odo_package_man(agent odo-agent.1)
endif()
if(ODO_BUILD_COLLECTOR)
  install(FILES ${pkgdir}/collector.conf DESTINATION /etc/odo PERMISSIONS ${ODO_CONF_MODE} COMPONENT collector)
  install(FILES ${pkgdir}/odo-collector.service ${pkgdir}/odo-collector-roads.service
          ${pkgdir}/odo-collector-archive.service ${pkgdir}/odo-collector-archive.timer
          ${pkgdir}/odo-collector-migrate.service ${pkgdir}/odo-collector-maintain.service
          ${pkgdir}/odo-collector-maintain.timer
          DESTINATION /lib/systemd/system COMPONENT collector)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/collector/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/odo/sql
          COMPONENT collector FILES_MATCHING PATTERN "*.sql")
  odo_package_docs(collector odo-collector)
  odo_package_man(collector odo-collector.1)
endif()
if(ODO_BUILD_BROKER_PKG)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/broker/render DESTINATION ${CMAKE_INSTALL_SBINDIR}
          RENAME odo-broker-setup COMPONENT broker)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/pki DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME odo-pki COMPONENT broker)
  install(FILES ${PROJECT_SOURCE_DIR}/tools/broker/odo.conf.in ${PROJECT_SOURCE_DIR}/tools/broker/acl.in
          DESTINATION ${CMAKE_INSTALL_DATADIR}/odo-broker COMPONENT broker)
  install(FILES ${pkgdir}/broker/odo-crl-renew.service ${pkgdir}/broker/odo-crl-renew.timer
          DESTINATION /lib/systemd/system COMPONENT broker)
  install(FILES ${pkgdir}/broker/odo-crl-renew.default DESTINATION /etc/default RENAME odo-crl-renew
          COMPONENT broker)
  odo_package_docs(broker odo-broker)
  odo_package_man(broker odo-pki.1)
  odo_package_man(broker odo-broker-setup.8)
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
# Maintainer scripts 0755, conffiles 0644 (Debian policy 10.9).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Shared-library dependencies with versions, from dpkg-shlibdeps and the
# libraries' symbols files; when cross-compiling it must know the target
# architecture (set at cpack time by packaging-env.cmake).
set(CPACK_PROJECT_CONFIG_FILE ${pkgdir}/packaging-env.cmake)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME odo-agent)
set(CPACK_COMPONENT_AGENT_DESCRIPTION "odo vehicle telematics agent\nReads GPS, OBD-II over CAN, an accelerometer and phone state, detects\ndriving events on the device and forwards them over MQTT/TLS.")
set(CPACK_DEBIAN_AGENT_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${pkgdir}/agent/conffiles;${pkgdir}/agent/postinst;${pkgdir}/agent/prerm;${pkgdir}/agent/postrm")

set(CPACK_DEBIAN_COLLECTOR_PACKAGE_NAME odo-collector)
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION "odo fleet collector\nIngests odo-agent batches from MQTT/TLS into PostgreSQL and aggregates\nmonthly driver features.")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "adduser")
# the optional road layer (map matching): odo-collector roads import
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_SUGGESTS "postgresql-15-postgis-3, osm2pgsql")
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_CONTROL_EXTRA
    "${pkgdir}/collector/conffiles;${pkgdir}/collector/postinst;${pkgdir}/collector/prerm;${pkgdir}/collector/postrm")

set(CPACK_DEBIAN_BROKER_PACKAGE_NAME odo-broker)
set(CPACK_DEBIAN_BROKER_PACKAGE_ARCHITECTURE all)
set(CPACK_COMPONENT_BROKER_DESCRIPTION "odo MQTT broker policy for mosquitto\nodo-broker-setup writes odo's mosquitto policy (TLS only, client\ncertificates, client id bound to the certificate, topic ACL) as a drop-in\nbeside Debian's mosquitto.conf and installs the broker's certificates;\nodo-pki issues and revokes them; a daily timer renews the CRL.")
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS "mosquitto (>= 2.0), openssl")
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA
    "${pkgdir}/broker/conffiles;${pkgdir}/broker/postinst;${pkgdir}/broker/prerm;${pkgdir}/broker/postrm")

set(components)
if(ODO_BUILD_AGENT)
  list(APPEND components agent)
endif()
if(ODO_BUILD_COLLECTOR)
  list(APPEND components collector)
endif()
if(ODO_BUILD_BROKER_PKG)
  list(APPEND components broker)
endif()
set(CPACK_COMPONENTS_ALL ${components})
include(CPack)
