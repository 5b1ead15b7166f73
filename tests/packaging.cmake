# Packaging tests, modelled on fmt's test/find-package-test and test/add-subdirectory-test:
# libsmooth must work for a consumer installed (find_package), from its build tree, and
# vendored (add_subdirectory). Each builds a separate project from scratch in its own
# directory under the build tree, with the generator and compiler of this build; label
# "packaging".
set(smooth_consumer_test ${CMAKE_CURRENT_SOURCE_DIR}/packaging/consumer_test.cmake)
set(smooth_consumer_args
  -DGENERATOR=${CMAKE_GENERATOR}
  -DCONFIG=Release
  -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
  -DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM})

# Installs this build into a scratch prefix, then builds and runs examples/access_demo
# against it: once auditing to memory, once to files.
if(SMOOTH_INSTALL)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/packaging-find_package)
  add_test(NAME packaging_find_package
    COMMAND ${CMAKE_COMMAND}
      -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/examples/access_demo
      -DWORK_DIR=${work}
      -DINSTALL_FROM=${PROJECT_BINARY_DIR}
      -DINSTALL_CONFIG=$<CONFIG>
      -DEXECUTABLE=access_demo
      -DRUN_ARGS=${work}/audit
      ${smooth_consumer_args}
      -P ${smooth_consumer_test})
  set_tests_properties(packaging_find_package PROPERTIES TIMEOUT 900 LABELS packaging)
endif()

# Builds and runs examples/access_demo against this build tree (smooth_DIR pointing at it),
# which must hold the config and every find module it uses, as the install tree does.
add_test(NAME packaging_build_tree
  COMMAND ${CMAKE_COMMAND}
    -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/examples/access_demo
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/packaging-build_tree
    -DSMOOTH_DIR=${PROJECT_BINARY_DIR}
    -DEXECUTABLE=access_demo
    ${smooth_consumer_args}
    -P ${smooth_consumer_test})
set_tests_properties(packaging_build_tree PROPERTIES TIMEOUT 900 LABELS packaging)

# Builds libsmooth inside a consumer with add_subdirectory (so it recompiles it), then runs
# the consumer.
add_test(NAME packaging_add_subdirectory
  COMMAND ${CMAKE_COMMAND}
    -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/packaging/add_subdirectory
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/packaging-add_subdirectory
    -DCONFIGURE_ARGS=-DSMOOTH_SOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DEXECUTABLE=add_subdirectory_consumer
    ${smooth_consumer_args}
    -P ${smooth_consumer_test})
set_tests_properties(packaging_add_subdirectory PROPERTIES TIMEOUT 900 LABELS packaging)
