# Builds and runs a consumer project of libsmooth from scratch; run with `cmake -P` by the
# packaging_* ctest cases (tests/packaging.cmake), in the spirit of fmt's find-package-test
# and add-subdirectory-test. Fails on the first step that does not succeed.
#
# Inputs (-D):
#   SOURCE_DIR    the consumer project
#   WORK_DIR      scratch directory, wiped first
#   GENERATOR     CMake generator for the consumer (the one libsmooth was built with)
#   CONFIG        the consumer's build configuration (Release)
#   CXX_COMPILER  C++ compiler to use (optional)
#   MAKE_PROGRAM  build tool to use (optional)
#   INSTALL_FROM  optional: a libsmooth build tree to `cmake --install` into WORK_DIR/prefix
#                 first; the consumer then finds it through CMAKE_PREFIX_PATH
#   INSTALL_CONFIG  the configuration of INSTALL_FROM to install (default: CONFIG)
#   SMOOTH_DIR    optional: a libsmooth build tree the consumer finds through smooth_DIR
#   CONFIGURE_ARGS  extra ;-separated configure arguments (optional)
#   EXECUTABLE    name of the consumer's program to run
#   RUN_ARGS      ;-separated arguments for a second run of it (optional)
cmake_minimum_required(VERSION 3.25)

foreach(var SOURCE_DIR WORK_DIR GENERATOR CONFIG EXECUTABLE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs one step, echoing its command, and stops the test when it fails.
function(run_step name)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "[${name}] ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${name}] failed: ${rc}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(build_dir "${WORK_DIR}/build")
set(configure_args ${CONFIGURE_ARGS})

if(DEFINED INSTALL_FROM)
  set(prefix "${WORK_DIR}/prefix")
  if(NOT INSTALL_CONFIG)
    set(INSTALL_CONFIG "${CONFIG}")
  endif()
  run_step(install "${CMAKE_COMMAND}" --install "${INSTALL_FROM}" --config "${INSTALL_CONFIG}"
           --prefix "${prefix}")
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix}")
endif()
if(DEFINED SMOOTH_DIR)
  list(APPEND configure_args "-Dsmooth_DIR=${SMOOTH_DIR}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

run_step(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build_dir}" -G "${GENERATOR}"
         "-DCMAKE_BUILD_TYPE=${CONFIG}" ${configure_args})

if(DEFINED INSTALL_FROM)
  # The point of the test is that the installed package is the one found, not the build
  # tree or anything else on the system.
  file(STRINGS "${build_dir}/CMakeCache.txt" smooth_dir REGEX "^smooth_DIR:")
  string(REGEX REPLACE "^smooth_DIR:[A-Z]+=" "" smooth_dir "${smooth_dir}")
  string(FIND "${smooth_dir}" "${prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "[configure] found smooth in '${smooth_dir}', not under ${prefix}")
  endif()
  message(STATUS "[configure] smooth_DIR=${smooth_dir}")
endif()

run_step(build "${CMAKE_COMMAND}" --build "${build_dir}" --config "${CONFIG}")

# Single-config generators put the program in the build dir, multi-config ones below it.
set(program "${build_dir}/${EXECUTABLE}")
if(NOT EXISTS "${program}")
  set(program "${build_dir}/${CONFIG}/${EXECUTABLE}")
endif()
run_step(run "${program}")
if(DEFINED RUN_ARGS)
  run_step(run "${program}" ${RUN_ARGS})
endif()
