# systemd.cmake: the service suites. test_service: shmbufd under socket activation, the notify
# protocol, journal logging, SHMBUFD_*. test_install: the tree `cmake --install` produces.
get_property(shmbuf_unitdir GLOBAL PROPERTY SHMBUF_INSTALL_UNITDIR)
get_property(shmbuf_sysusersdir GLOBAL PROPERTY SHMBUF_INSTALL_SYSUSERSDIR)
if(NOT shmbuf_unitdir)
  return() # daemon/systemd is not part of this tree
endif()

shmbuf_test(test_service SOURCES test_service.c service_harness.c LIBS shmbuf)
shmbuf_test(test_install SOURCES test_install.c service_harness.c LIBS shmbuf)
add_dependencies(test_service shmbufd)
# test_install runs `cmake --install` on this build tree, so everything it installs must be built.
add_dependencies(test_install shmbufd shmbuf shmbuf_static)
if(TARGET shmbufctl)
  add_dependencies(test_install shmbufctl)
endif()

# A relative install directory follows `cmake --install --prefix <temporary dir>`; an absolute one
# would make the test write into the real system, so the install tests skip instead.
set(absolute "")
foreach(dir CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_MANDIR
    CMAKE_INSTALL_SYSCONFDIR shmbuf_unitdir shmbuf_sysusersdir)
  if(IS_ABSOLUTE "${${dir}}")
    list(APPEND absolute "${${dir}}")
  endif()
endforeach()
string(JOIN ", " absolute ${absolute})
get_target_property(shmbufd_defs shmbufd COMPILE_DEFINITIONS)

foreach(t test_service test_install)
  target_compile_definitions(${t} PRIVATE
    SHMBUF_BINARY_DIR="${CMAKE_BINARY_DIR}"
    SHMBUF_CMAKE_COMMAND="${CMAKE_COMMAND}"
    SHMBUF_C_COMPILER="${CMAKE_C_COMPILER}"
    SHMBUF_VERSION="${PROJECT_VERSION}"
    SHMBUF_INSTALL_BINDIR="${CMAKE_INSTALL_BINDIR}"
    SHMBUF_INSTALL_LIBDIR="${CMAKE_INSTALL_LIBDIR}"
    SHMBUF_INSTALL_INCLUDEDIR="${CMAKE_INSTALL_INCLUDEDIR}"
    SHMBUF_INSTALL_MANDIR="${CMAKE_INSTALL_MANDIR}"
    SHMBUF_INSTALL_SYSCONFDIR="${CMAKE_INSTALL_SYSCONFDIR}"
    SHMBUF_INSTALL_UNITDIR="${shmbuf_unitdir}"
    SHMBUF_INSTALL_SYSUSERSDIR="${shmbuf_sysusersdir}")
  if(absolute)
    target_compile_definitions(${t} PRIVATE SHMBUF_INSTALL_ABSOLUTE="${absolute}")
  endif()
  # An instrumented libshmbuf loads only into an instrumented program.
  if(SHMBUF_SANITIZE)
    target_compile_definitions(${t} PRIVATE SHMBUF_CONSUMER_FLAGS="-fsanitize=address,undefined")
  else()
    target_compile_definitions(${t} PRIVATE SHMBUF_CONSUMER_FLAGS="")
  endif()
  if("HAVE_LIBSYSTEMD=1" IN_LIST shmbufd_defs)
    target_compile_definitions(${t} PRIVATE SHMBUF_HAVE_LIBSYSTEMD=1)
  endif()
endforeach()
