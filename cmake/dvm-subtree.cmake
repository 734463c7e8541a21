# Script mode (cmake -P) helper of the sanitize and fuzz tests registered by cmake/dvm-fuzz.cmake.
#
#   -DMODE=build  -DSOURCE_DIR= -DBINARY_DIR= -DGENERATOR= -DCXX= -DOPTIONS=a|b|c -DJOBS=
#       configures and builds a second build tree
#   -DMODE=test   -DBINARY_DIR= -DLABELS= [-DEXCLUDE=regex] -DJOBS= [-DREPORTS=dir]
#       runs that tree's tests with the given labels; with REPORTS, also fails when a sanitizer
#       wrote a report there (and prints it)
#   -DMODE=fuzz   -DFUZZER= -DNAME= -DSEEDS= -DWORK= -DSECONDS=
#       runs one libFuzzer target for SECONDS on its seed corpus; new inputs go to WORK/<name>,
#       a crash to WORK/<name>-crash-* (copy it to tests/fuzz/corpus/<name>/ as a regression)
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

if(MODE STREQUAL "build")
  string(REPLACE "|" ";" options "${OPTIONS}")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX}" ${options})
  run("${CMAKE_COMMAND}" --build "${BINARY_DIR}" --parallel "${JOBS}")
elseif(MODE STREQUAL "test")
  if(REPORTS)
    file(REMOVE_RECURSE "${REPORTS}")
    file(MAKE_DIRECTORY "${REPORTS}")
  endif()
  set(exclude "")
  if(EXCLUDE)
    set(exclude -E "${EXCLUDE}")
  endif()
  execute_process(COMMAND "${CMAKE_CTEST_COMMAND}" --output-on-failure -j "${JOBS}" -L "${LABELS}" ${exclude}
                  WORKING_DIRECTORY "${BINARY_DIR}" RESULT_VARIABLE rc)
  set(reports "")
  if(REPORTS)
    file(GLOB reports "${REPORTS}/*")
  endif()
  foreach(report IN LISTS reports)
    file(READ "${report}" text)
    message("---- sanitizer report ${report}\n${text}")
  endforeach()
  list(LENGTH reports count)
  if(NOT rc EQUAL 0 OR count GREATER 0)
    message(FATAL_ERROR "tests with labels ${LABELS} in ${BINARY_DIR}: ctest exit ${rc}, ${count} sanitizer report(s)")
  endif()
elseif(MODE STREQUAL "fuzz")
  file(MAKE_DIRECTORY "${WORK}/${NAME}")
  # The first corpus directory receives the new inputs; the seeds stay as they are.
  execute_process(COMMAND "${FUZZER}" "-max_total_time=${SECONDS}" -timeout=20 -print_final_stats=1
                          "-artifact_prefix=${WORK}/${NAME}-" "${WORK}/${NAME}" "${SEEDS}"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(GLOB found "${WORK}/${NAME}-*")
    message(FATAL_ERROR "fuzz target ${NAME} failed (${rc}); input(s): ${found}\n"
                        "Reproduce with: ${FUZZER} <file>; add the file to tests/fuzz/corpus/${NAME}/ "
                        "as regression-<what> once it is fixed.")
  endif()
else()
  message(FATAL_ERROR "dvm-subtree.cmake: unknown MODE \"${MODE}\"")
endif()
