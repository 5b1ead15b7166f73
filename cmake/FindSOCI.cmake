# Finds SOCI (Debian: libsoci-dev), which ships no CMake config. Defines the imported
# targets SOCI::Core, SOCI::SQLite3 and SOCI::PostgreSQL; each backend target brings its
# client library (SQLite::SQLite3, PostgreSQL::PostgreSQL) and SOCI::Core along.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)
find_library(SOCI_SQLITE3_LIBRARY NAMES soci_sqlite3)
find_library(SOCI_POSTGRESQL_LIBRARY NAMES soci_postgresql)

find_package(SQLite3 QUIET)
find_package(PostgreSQL QUIET)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI
  REQUIRED_VARS SOCI_CORE_LIBRARY SOCI_SQLITE3_LIBRARY SOCI_POSTGRESQL_LIBRARY SOCI_INCLUDE_DIR
                SQLite3_FOUND PostgreSQL_FOUND)

if(SOCI_FOUND)
  if(NOT TARGET SOCI::Core)
    add_library(SOCI::Core UNKNOWN IMPORTED)
    set_target_properties(SOCI::Core PROPERTIES
      IMPORTED_LOCATION "${SOCI_CORE_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")
  endif()
  if(NOT TARGET SOCI::SQLite3)
    add_library(SOCI::SQLite3 UNKNOWN IMPORTED)
    set_target_properties(SOCI::SQLite3 PROPERTIES
      IMPORTED_LOCATION "${SOCI_SQLITE3_LIBRARY}"
      INTERFACE_LINK_LIBRARIES "SOCI::Core;SQLite::SQLite3")
  endif()
  if(NOT TARGET SOCI::PostgreSQL)
    add_library(SOCI::PostgreSQL UNKNOWN IMPORTED)
    set_target_properties(SOCI::PostgreSQL PROPERTIES
      IMPORTED_LOCATION "${SOCI_POSTGRESQL_LIBRARY}"
      INTERFACE_LINK_LIBRARIES "SOCI::Core;PostgreSQL::PostgreSQL")
  endif()
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY SOCI_SQLITE3_LIBRARY
                 SOCI_POSTGRESQL_LIBRARY)
