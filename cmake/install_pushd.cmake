# Install-time part of `make install` / `cmake --install` (see CMakeLists.txt):
# fills in the paths of the prefix in effect now and installs the units,
# sysusers/tmpfiles entries, the setup script and the configuration.
# PUSHD_SOURCE_DIR, PUSHD_BINARY_DIR and PUSHD_SYSTEMD_UNIT_DIR are set by
# the install(CODE) before.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(sysconfdir "/etc")
else()
  set(sysconfdir "${prefix}/etc")
endif()
# The @-variables of systemd/*.in.
set(PUSHD_CONFIG_DIR "${sysconfdir}/pushd")
set(PUSHD_ENV_FILE "${sysconfdir}/default/pushd")
set(PUSHD_BINDIR "${prefix}/bin")
set(PUSHD_LIBDIR "${prefix}/lib")

foreach(f pushd.service pushd.tmpfiles pushd-setup)
  configure_file("${PUSHD_SOURCE_DIR}/systemd/${f}.in" "${PUSHD_BINARY_DIR}/${f}" @ONLY)
endforeach()
# The template pushd@.service is pushd.service plus what makes N instances
# share a host (made here rather than kept as a second copy of the unit):
# a Name of its own per instance (host name and instance, since instances
# sharing a Redis must have distinct names across hosts too) and ReusePort,
# so that `systemctl enable --now pushd@{1..4}` listen on one port.
file(READ "${PUSHD_BINARY_DIR}/pushd.service" unit)
string(REPLACE "Description=pushd real-time WebSocket push server"
       "Description=pushd real-time WebSocket push server, instance %i" unit "${unit}")
string(REPLACE "[Service]\n" "[Service]
# One of several instances on this host's port (SO_REUSEPORT), named
# <host>-<instance>; the EnvironmentFile may still override both.
Environment=PUSHD_NAME=%H-%i
Environment=PUSHD_REUSEPORT=true
" unit "${unit}")
file(WRITE "${PUSHD_BINARY_DIR}/pushd@.service" "${unit}")
# The environment at install time overrides the configured directory (the
# Debian package made from an already built tree: debian/rules).
if(DEFINED ENV{PUSHD_SYSTEMD_UNIT_DIR})
  set(PUSHD_SYSTEMD_UNIT_DIR "$ENV{PUSHD_SYSTEMD_UNIT_DIR}")
endif()
if(NOT PUSHD_SYSTEMD_UNIT_DIR)
  set(PUSHD_SYSTEMD_UNIT_DIR "${prefix}/lib/systemd/system")
endif()
file(INSTALL "${PUSHD_BINARY_DIR}/pushd.service" "${PUSHD_BINARY_DIR}/pushd@.service"
     DESTINATION "${PUSHD_SYSTEMD_UNIT_DIR}")
file(INSTALL "${PUSHD_SOURCE_DIR}/systemd/pushd.sysusers" DESTINATION "${prefix}/lib/sysusers.d"
     RENAME pushd.conf)
file(INSTALL "${PUSHD_BINARY_DIR}/pushd.tmpfiles" DESTINATION "${prefix}/lib/tmpfiles.d"
     RENAME pushd.conf)
file(INSTALL "${PUSHD_BINARY_DIR}/pushd-setup" DESTINATION "${prefix}/lib/pushd"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                      WORLD_READ WORLD_EXECUTE)

# The installed configuration keeps no secret: the development secret of
# etc/pushd.yaml is blanked; the real one comes from the EnvironmentFile.
file(READ "${PUSHD_SOURCE_DIR}/etc/pushd.yaml" yaml)
string(REGEX REPLACE "AccessSecret: \"[^\"]*\""
       "AccessSecret: \"\"   # set PUSHD_AUTH_ACCESSSECRET in ${PUSHD_ENV_FILE}" yaml "${yaml}")
file(WRITE "${PUSHD_BINARY_DIR}/pushd.yaml.installed" "${yaml}")
set(cfg "$ENV{DESTDIR}${PUSHD_CONFIG_DIR}/pushd.yaml")
if(EXISTS "${cfg}")
  message(STATUS "Keeping ${cfg}; the new default goes to pushd.yaml.dist")
  set(cfg_name pushd.yaml.dist)
else()
  set(cfg_name pushd.yaml)
endif()
file(INSTALL "${PUSHD_BINARY_DIR}/pushd.yaml.installed" DESTINATION "${PUSHD_CONFIG_DIR}"
     RENAME ${cfg_name} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

# A real install prepares the host (user, secret, owners) as the package
# does; a staged one (DESTDIR) leaves that to whoever installs the stage.
# PUSHD_NO_SETUP=1 skips it (the tests install into scratch prefixes).
if("$ENV{DESTDIR}" STREQUAL "" AND NOT "$ENV{PUSHD_NO_SETUP}")
  execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(uid STREQUAL "0")
    execute_process(COMMAND "${prefix}/lib/pushd/pushd-setup" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${prefix}/lib/pushd/pushd-setup failed (${rc})")
    endif()
  else()
    message(STATUS "Not root: run ${prefix}/lib/pushd/pushd-setup as root before starting pushd.service")
  endif()
endif()
