# Run by ctest: build and run the tiny consumer of cmake/consumer one of three ways
# (MODE), as the README describes them.
#   find_package      install this build tree (POLLUX_BINARY_DIR) into a scratch prefix,
#                     then configure the consumer with -DCMAKE_PREFIX_PATH=prefix;
#   add_subdirectory  the consumer adds POLLUX_SOURCE_DIR as a subdirectory;
#   FetchContent      the consumer declares pollux with SOURCE_DIR (no download).
# The two embedded modes must build pollux's libraries only: no test, header check or
# sample target may exist, and the build may take no more steps than pollux's sources,
# its four archives and the consumer's compile and link.
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message("${out}")
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "consumer check (${MODE}) failed at: ${cmd}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

set(configure ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DPOLLUX_CONSUMER_MODE=${MODE})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${POLLUX_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  run(${configure} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
else()
  # A plain build: what is checked is what gets built, not how.
  run(${configure} -DPOLLUX_SOURCE_DIR=${POLLUX_SOURCE_DIR})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --target help)
  foreach(unwanted header_check _tests echo_server gtest doc_)
    string(FIND "${out}" "${unwanted}" at)
    if(NOT at EQUAL -1)
      message("${out}")
      message(FATAL_ERROR "consumer check (${MODE}): a '${unwanted}' target exists; a subproject must build the libraries only")
    endif()
  endforeach()
endif()

run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
set(build_log "${out}")
run(${WORK_DIR}/build/consumer)
message("${out}")

if(NOT MODE STREQUAL "find_package" AND GENERATOR STREQUAL "Ninja")
  file(GLOB_RECURSE sources ${POLLUX_SOURCE_DIR}/core/src/*.cpp ${POLLUX_SOURCE_DIR}/net/src/*.cpp
       ${POLLUX_SOURCE_DIR}/reactor/src/*.cpp ${POLLUX_SOURCE_DIR}/framework/src/*.cpp)
  list(LENGTH sources source_count)
  math(EXPR allowed "${source_count} + 4 + 2")
  string(REGEX MATCHALL "\\[[0-9]+/[0-9]+\\]" steps "${build_log}")
  list(GET steps -1 last)
  string(REGEX REPLACE "\\[[0-9]+/([0-9]+)\\]" "\\1" total "${last}")
  message("consumer check (${MODE}): ${total} build steps (pollux: ${source_count} sources, 4 libraries)")
  if(total GREATER allowed)
    message("${build_log}")
    message(FATAL_ERROR "consumer check (${MODE}): ${total} build steps, more than the ${allowed} of the libraries and the consumer")
  endif()
endif()
