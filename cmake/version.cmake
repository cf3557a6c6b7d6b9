# SPDX-License-Identifier: MIT
# cmake/version.cmake: everything derived from the project's version. project(VERSION) in the
# top-level CMakeLists.txt is the one place it is set; include this right after it:
#   include(cmake/version.cmake)
# What follows from it: the header's SHMBUF_VERSION_* macros (shmbuf_version.h, generated
# below), shmbuf.pc's Version:, shmbufConfigVersion.cmake, the .so's file name, shmbufd's
# SHMBUF_VERSION_STR. CHANGELOG.md, debian/changelog and the .TH lines of the manual pages
# are written by hand; test_version (docs/CMakeLists.txt) fails when they disagree with it.

# The soname: changed only by an incompatible ABI change, never by a version number alone.
# 1 since 0.2.0: structs the library fills take the caller's size (shmbuf_acquire(),
# shmbuf_release(), shmbuf_stat(), ... gained an argument), which 0.1.0's callers lack.
set(SHMBUF_SOVERSION 1)
# While the version is 0.x, minor versions may change the API: a program that asked for 0.1
# must not be given 0.2. From 1.0 on this becomes SameMajorVersion.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(SHMBUF_VERSION_COMPATIBILITY SameMinorVersion)
else()
  set(SHMBUF_VERSION_COMPATIBILITY SameMajorVersion)
endif()
# The symbol version node that new symbols of this release go to (see client/libshmbuf.map).
set(SHMBUF_SYMBOL_NODE "SHMBUF_${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")

# shmbuf_version.h: the header's version macros, generated into the build tree. Its directory
# goes on libshmbuf's include path (BUILD_INTERFACE), and the file is installed next to shmbuf.h.
set(SHMBUF_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/shmbuf_version.h.in"
  "${SHMBUF_GENERATED_INCLUDE_DIR}/shmbuf_version.h" @ONLY)
