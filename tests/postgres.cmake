# PostgreSQL for the tests: one throwaway cluster per build tree, started and stopped by
# ctest fixture tests around the tests that need it (tests/pg/pg_cluster.sh). It runs as an
# unprivileged user (smooth-pg when ctest runs as root), on a Unix socket only, in
# /tmp/smooth-pg-<hash of the build dir> so that build trees never share one. If the cluster
# cannot start, postgres_start fails and so does every test that requires it: nothing is
# skipped.
#
# Tests that need the cluster:
#
#   smooth_add_postgres_variant(<test_name> <command> [<arg>...])
#
# adds ctest test <test_name> running <command> [<arg>...] (a target name works, as in
# add_test) with FIXTURES_REQUIRED postgres, label "postgres" and the environment
#   SMOOTH_TEST_STORAGE=postgresql
#   SMOOTH_TEST_PG_CONNINFO_FILE=${SMOOTH_PG_CONNINFO_FILE}
# where that file holds the libpq conninfo of the cluster's database smooth_test, for
# example "host=/tmp/smooth-pg-0123456789ab port=5432 user=smooth dbname=smooth_test".
# Each storage a test opens gets a database of its own, smooth_t_<pid>_<n>_<random>
# (NewPgDatabase in test_storage.hpp), dropped when the test program exits. More properties can be added after the call with set_tests_properties or
# set_property(TEST <test_name> APPEND PROPERTY ...).
find_package(PostgreSQL REQUIRED)                 # libpq-dev: PostgreSQL::PostgreSQL (libpq)

string(MD5 smooth_pg_build_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${smooth_pg_build_hash}" 0 12 smooth_pg_build_hash)
# Under /tmp, not the build tree: the socket path must stay short, and smooth-pg must be able
# to reach the directory (a build tree under /root is not traversable by other users).
set(SMOOTH_PG_STATE_DIR /tmp/smooth-pg-${smooth_pg_build_hash})
set(SMOOTH_PG_CONNINFO_FILE ${SMOOTH_PG_STATE_DIR}/conninfo)
set(smooth_pg_cluster ${CMAKE_CURRENT_SOURCE_DIR}/pg/pg_cluster.sh)

add_test(NAME postgres_start COMMAND bash ${smooth_pg_cluster} start ${SMOOTH_PG_STATE_DIR})
set_tests_properties(postgres_start PROPERTIES
  FIXTURES_SETUP postgres
  TIMEOUT 180
  LABELS postgres)
add_test(NAME postgres_stop COMMAND bash ${smooth_pg_cluster} stop ${SMOOTH_PG_STATE_DIR})
set_tests_properties(postgres_stop PROPERTIES
  FIXTURES_CLEANUP postgres
  TIMEOUT 120
  LABELS postgres)

function(smooth_add_postgres_variant test_name)
  if(NOT ARGN)
    message(FATAL_ERROR "smooth_add_postgres_variant(${test_name}): no command given")
  endif()
  add_test(NAME ${test_name} COMMAND ${ARGN})
  set_tests_properties(${test_name} PROPERTIES
    FIXTURES_REQUIRED postgres
    LABELS postgres)
  set_property(TEST ${test_name} APPEND PROPERTY ENVIRONMENT
    SMOOTH_TEST_STORAGE=postgresql
    SMOOTH_TEST_PG_CONNINFO_FILE=${SMOOTH_PG_CONNINFO_FILE})
endfunction()

# Proof that the harness works: connects through the fixture's conninfo and checks the
# server's settings and a write/read round trip. Its file does not match *_test.cpp, so the
# glob in CMakeLists.txt does not register it a second time.
add_executable(postgres_harness_check pg/harness_check.cpp)
target_link_libraries(postgres_harness_check PRIVATE smooth_test_main PostgreSQL::PostgreSQL)
smooth_set_warnings(postgres_harness_check)
smooth_add_postgres_variant(postgres_harness postgres_harness_check)

# The PostgreSQL backend's own promises (schemas, migrations, SET LOCAL, failing closed,
# atomic tenant creation, the EXCLUDE constraint, the bounded pool). Registered only here,
# as a postgres variant: it cannot run without the cluster. Not *_test.cpp, so the glob in
# CMakeLists.txt does not pick it up.
add_executable(postgres_storage_check pg/postgres_storage_check.cpp)
target_link_libraries(postgres_storage_check PRIVATE smooth::smooth smooth_test_main
                                                     PostgreSQL::PostgreSQL)
target_include_directories(postgres_storage_check PRIVATE ${PROJECT_SOURCE_DIR}/libsmooth/src
                                                          ${CMAKE_CURRENT_SOURCE_DIR})
smooth_set_warnings(postgres_storage_check)
smooth_add_postgres_variant(postgres_storage postgres_storage_check)
set_tests_properties(postgres_storage PROPERTIES TIMEOUT 600)
