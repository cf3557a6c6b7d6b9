# SPDX-License-Identifier: MIT
# install-units.cmake: runs at install time, so that the unit names the prefix given to
# `cmake --install --prefix DIR`, not the one configured. The variables SHMBUF_SYSTEMD_* are set
# just before by install(CODE) in CMakeLists.txt; directories are relative to the prefix or absolute.

function(shmbuf_full_path out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

# A block: this file is include()d into the one install script shared by the whole project.
block(PROPAGATE CMAKE_INSTALL_MANIFEST_FILES)
shmbuf_full_path(SHMBUFD_PATH "${SHMBUF_SYSTEMD_BINDIR}/shmbufd")
shmbuf_full_path(SHMBUF_CONFDIR "${SHMBUF_SYSTEMD_SYSCONFDIR}/shmbuf")
shmbuf_full_path(unitdir "${SHMBUF_SYSTEMD_UNITDIR}")

# One staging directory per destination: installs into different prefixes may run at once.
string(SHA1 tag "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(stage "${SHMBUF_SYSTEMD_STAGING}/${tag}")
configure_file("${SHMBUF_SYSTEMD_SOURCE}/shmbufd.service.in" "${stage}/shmbufd.service" @ONLY)
# file(INSTALL) is what install(FILES) runs: it honours DESTDIR and records the install manifest.
file(INSTALL DESTINATION "${unitdir}" TYPE FILE
  FILES "${stage}/shmbufd.service" "${SHMBUF_SYSTEMD_SOURCE}/shmbufd.socket")

# The configuration is the administrator's once installed: never overwrite it.
if(EXISTS "$ENV{DESTDIR}${SHMBUF_CONFDIR}/shmbufd.conf")
  message(STATUS "Keeping: $ENV{DESTDIR}${SHMBUF_CONFDIR}/shmbufd.conf")
else()
  file(INSTALL DESTINATION "${SHMBUF_CONFDIR}" TYPE FILE FILES "${SHMBUF_SYSTEMD_SOURCE}/shmbufd.conf")
endif()
endblock()
