# check-manpages.cmake: fail when a manual page renders with any warning, or when a page in
# docs/man3 is not in the installed list. Run by ctest as test_manpages (docs/CMakeLists.txt).
# Variables: MAN and/or GROFF (programs), PAGES (every page), EXPECTED (man3 pages installed),
# MAN3_DIR.
cmake_minimum_required(VERSION 3.25)
set(failed 0)
foreach(page IN LISTS PAGES)
  if(MAN)
    # -l: this file; --warnings: groff -ww; stdout is the rendered page, stderr the warnings.
    execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat
        ${MAN} --warnings -E UTF-8 -l ${page}
      OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  else()
    execute_process(COMMAND ${GROFF} -ww -z -man -Tutf8 ${page}
      OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  endif()
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(SEND_ERROR "${page}: exit status ${rc}\n${err}")
    set(failed 1)
  elseif(MAN AND out STREQUAL "")
    message(SEND_ERROR "${page}: rendered to nothing")
    set(failed 1)
  else()
    message(STATUS "ok: ${page}")
  endif()
endforeach()
file(GLOB present RELATIVE ${MAN3_DIR} ${MAN3_DIR}/*.3)
foreach(page IN LISTS present)
  if(NOT page IN_LIST EXPECTED)
    message(SEND_ERROR "docs/man3/${page} is not installed: add it to SHMBUF_MAN3_PAGES in docs/CMakeLists.txt")
    set(failed 1)
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "manual pages with warnings")
endif()
