# pollux_add_layer(<layer> [DEPS <targets>...])
#
# One layer = one library target pollux_<layer> (alias and export name pollux::<layer>)
# built from <layer>/src/*.cpp, public headers in <layer>/include/pollux/<layer>/,
# internal headers in <layer>/src/. Also:
#   * with POLLUX_HEADER_CHECKS, a header self-containment check: every public header
#     compiles on its own;
#   * <layer>_tests from <layer>/tests/*_test.cpp (GoogleTest, discovered into ctest);
#   * <layer>_long_tests from <layer>/tests/long_*_test.cpp, labelled `long` (CI skips).

add_library(pollux_warnings INTERFACE)
target_compile_options(pollux_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wold-style-cast -Wnon-virtual-dtor
  $<$<BOOL:${POLLUX_WERROR}>:-Werror>)

# pollux_test_build: what every test program and test helper links. Test code is mostly
# GoogleTest macro expansion, and full debug info for it is a quarter of the build's time:
# line tables (-g1) keep file:line in sanitizer reports and backtraces. Configure with
# -DPOLLUX_TEST_FULL_DEBUG_INFO=ON to step through a test in a debugger.
option(POLLUX_TEST_FULL_DEBUG_INFO "Full debug info (-g) for test code, not line tables only" OFF)
add_library(pollux_test_build INTERFACE)
if(NOT POLLUX_TEST_FULL_DEBUG_INFO)
  target_compile_options(pollux_test_build INTERFACE $<$<CONFIG:Debug,RelWithDebInfo>:-g1>)
endif()
target_link_libraries(pollux_test_build INTERFACE pollux_warnings)

set(POLLUX_LAYERS "" CACHE INTERNAL "")

function(pollux_add_layer layer)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${dir}/src/*.cpp)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${dir}/include/pollux/${layer}/*.hpp)
  if(NOT sources)
    message(STATUS "pollux: layer '${layer}' has no sources yet; skipped")
    return()
  endif()

  add_library(pollux_${layer} ${sources})
  add_library(pollux::${layer} ALIAS pollux_${layer})
  set_target_properties(pollux_${layer} PROPERTIES EXPORT_NAME ${layer} POSITION_INDEPENDENT_CODE ON)
  target_compile_features(pollux_${layer} PUBLIC cxx_std_23)
  target_include_directories(pollux_${layer}
    PUBLIC $<BUILD_INTERFACE:${dir}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${dir}/src)
  target_link_libraries(pollux_${layer} PUBLIC ${ARG_DEPS} Threads::Threads PRIVATE $<BUILD_INTERFACE:pollux_warnings>)
  install(TARGETS pollux_${layer} EXPORT polluxTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set(POLLUX_LAYERS ${POLLUX_LAYERS} pollux_${layer} CACHE INTERNAL "")

  # Every public header compiles on its own (Seastar's checkheaders).
  set(checks "")
  if(NOT POLLUX_HEADER_CHECKS)
    set(headers "")
  endif()
  foreach(h ${headers})
    file(RELATIVE_PATH rel ${dir}/include ${h})  # pollux/<layer>/[sub/]name.hpp
    string(REGEX REPLACE "^pollux/${layer}/(.*)\\.hpp$" "\\1" name ${rel})
    string(REPLACE "/" "_" name ${name})
    set(tu ${CMAKE_CURRENT_BINARY_DIR}/header_check/${name}.cpp)
    file(CONFIGURE OUTPUT ${tu} CONTENT "#include \"${rel}\"\n")
    list(APPEND checks ${tu})
  endforeach()
  if(checks)
    add_library(pollux_${layer}_header_check OBJECT ${checks})
    target_link_libraries(pollux_${layer}_header_check PRIVATE pollux_${layer} pollux_warnings)
    target_compile_options(pollux_${layer}_header_check PRIVATE -g0)  # compiled, never linked
  endif()

  if(POLLUX_BUILD_TESTS)
    file(GLOB tests CONFIGURE_DEPENDS ${dir}/tests/*_test.cpp)
    file(GLOB long_tests CONFIGURE_DEPENDS ${dir}/tests/long_*_test.cpp)
    file(GLOB test_support CONFIGURE_DEPENDS ${dir}/tests/support/*.cpp)
    if(test_support)
      # Shared test helpers (expect_events, ...) that higher layers' tests may reuse.
      add_library(pollux_${layer}_test_support STATIC ${test_support})
      target_include_directories(pollux_${layer}_test_support PUBLIC ${dir}/tests)
      target_link_libraries(pollux_${layer}_test_support PUBLIC pollux_${layer} GTest::gtest PRIVATE pollux_test_build)
      list(APPEND ARG_TEST_DEPS pollux_${layer}_test_support)
    endif()
    if(long_tests)
      list(REMOVE_ITEM tests ${long_tests})
    endif()
    foreach(kind IN ITEMS tests long_tests)
      if(NOT ${kind})
        continue()
      endif()
      add_executable(${layer}_${kind} ${${kind}})
      target_include_directories(${layer}_${kind} PRIVATE ${dir}/src ${dir}/tests)
      target_link_libraries(${layer}_${kind} PRIVATE pollux_${layer} ${ARG_TEST_DEPS}
        GTest::gtest GTest::gmock GTest::gtest_main pollux_test_build)
      if(kind STREQUAL "long_tests")
        set(labels long)
      else()
        set(labels ${layer})
      endif()
      gtest_discover_tests(${layer}_${kind} TEST_PREFIX "${layer}." PROPERTIES LABELS "${labels}" TIMEOUT 120
        DISCOVERY_TIMEOUT 60)
    endforeach()
  endif()
endfunction()
