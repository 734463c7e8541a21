# Fuzzing and sanitizers in the test suite. Included at the end of tests/CMakeLists.txt.
#
#   unit.fuzz: ...     dvm_fuzz_replay: the fuzz targets of tests/fuzz built without libFuzzer
#                      (any compiler), replaying their seed corpora and regression inputs, and
#                      the guest secret reader model checked against the real Bash function
#   sanitize.build     a second build tree, <build>/tests/sanitize, with DVM_SANITIZE=ON (ASan+UBSan,
#   sanitize.unit_e2e  same compiler), and its unit and CLI end-to-end tests; any sanitizer
#                      report fails (see tests/sanitize/sanitizer_defaults.cpp)
#   fuzz.build         when clang++ with libFuzzer is available: a third tree, <build>/tests/fuzz, built
#   fuzz.<target>      with clang from tests/fuzz/CMakeLists.txt, and a run of each target for
#                      DVM_FUZZ_SECONDS
option(DVM_TEST_SANITIZE "Register the ASan+UBSan build of the unit and e2e tests (label sanitize)" ON)
option(DVM_TEST_FUZZ "Register the libFuzzer runs when clang++ with libFuzzer is found (label fuzz)" ON)
set(DVM_FUZZ_SECONDS 30 CACHE STRING "How long the test suite runs each fuzz target")
set(DVM_FUZZ_CXX "" CACHE FILEPATH "clang++ for the fuzz targets (empty: search for clang++)")

set(_dvm_fuzz_dir "${PROJECT_SOURCE_DIR}/tests/fuzz")
set(_dvm_subtree "${PROJECT_SOURCE_DIR}/cmake/dvm-subtree.cmake")
file(GLOB _dvm_fuzz_sources CONFIGURE_DEPENDS "${_dvm_fuzz_dir}/fuzz_*.cpp")

add_executable(dvm_fuzz_replay "${_dvm_fuzz_dir}/replay_test.cpp" "${_dvm_fuzz_dir}/secret_frames_test.cpp"
               "${_dvm_fuzz_dir}/regressions_test.cpp" ${_dvm_fuzz_sources})
target_link_libraries(dvm_fuzz_replay PRIVATE dvm_internal doctest::doctest)
target_compile_definitions(dvm_fuzz_replay PRIVATE DVM_FUZZ_SOURCE_DIR="${_dvm_fuzz_dir}")
dvm_set_warnings(dvm_fuzz_replay)
doctest_discover_tests(dvm_fuzz_replay TEST_PREFIX "unit." PROPERTIES LABELS unit)

# A DVM_SANITIZE build: every executable gets the sanitizer defaults (report = abort + file).
if(DVM_SANITIZE)
  set(DVM_SANITIZER_REPORTS "${PROJECT_BINARY_DIR}/sanitizer-reports")
  file(MAKE_DIRECTORY "${DVM_SANITIZER_REPORTS}")
  add_library(dvm_sanitizer_defaults OBJECT "${PROJECT_SOURCE_DIR}/tests/sanitize/sanitizer_defaults.cpp")
  target_compile_definitions(dvm_sanitizer_defaults PRIVATE
    DVM_SANITIZER_LOG_PATH="${DVM_SANITIZER_REPORTS}/report")
  function(_dvm_executables dir out)
    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
    set(found "")
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "EXECUTABLE")
        list(APPEND found ${t})
      endif()
    endforeach()
    get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
    foreach(sub IN LISTS subdirs)
      _dvm_executables("${sub}" more)
      list(APPEND found ${more})
    endforeach()
    set(${out} ${found} PARENT_SCOPE)
  endfunction()
  _dvm_executables("${PROJECT_SOURCE_DIR}" _dvm_exes)
  foreach(t IN LISTS _dvm_exes)
    target_link_libraries(${t} PRIVATE dvm_sanitizer_defaults)
  endforeach()
endif()

# The sanitize and fuzz trees are registered in the normal build only (not inside themselves).
if(DVM_SANITIZE)
  return()
endif()

include(ProcessorCount)
ProcessorCount(_dvm_jobs)
if(_dvm_jobs LESS 1)
  set(_dvm_jobs 2)
endif()

# Both extra trees keep line tables only (-g1): file:line in every report, and build at -O1.
# -O0 compiles the sanitizer tree about twice as fast (g++ 12 with ASan+UBSan) but its tests then
# ran 544 -> 725 s: a net loss of about two minutes, measured on a fresh clone. The fuzz tree's
# targets run for a fixed time, so their speed is coverage.
set(_dvm_sanitize_build_flags "-O1 -g1 -DNDEBUG")
set(_dvm_fuzz_build_flags "-O1 -g1 -DNDEBUG")

if(DVM_TEST_SANITIZE)
  set(_dir "${CMAKE_CURRENT_BINARY_DIR}/sanitize")
  add_test(NAME sanitize.build
    COMMAND "${CMAKE_COMMAND}" -DMODE=build "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}" "-DBINARY_DIR=${_dir}"
            "-DGENERATOR=${CMAKE_GENERATOR}" "-DCXX=${CMAKE_CXX_COMPILER}" "-DJOBS=${_dvm_jobs}"
            "-DOPTIONS=-DCMAKE_BUILD_TYPE=RelWithDebInfo|-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=${_dvm_sanitize_build_flags}|-DDVM_SANITIZE=ON|-DDVM_BUILD_TESTS=ON|-DDVM_BUILD_CLI=ON|-DDVM_BUILD_PYTHON=OFF|-DDVM_BUILD_EXAMPLES=OFF|-DDVM_INSTALL=OFF|-DDVM_WERROR=OFF|-DDVM_TEST_PYTHON=${DVM_TEST_PYTHON}"
            -P "${_dvm_subtree}")
  # PROCESSORS: the builds and the inner ctest use all cores, so ctest -j runs nothing beside
  # them (the e2e tests of the main tree would run under twice the load otherwise).
  set_tests_properties(sanitize.build PROPERTIES LABELS sanitize FIXTURES_SETUP dvm_sanitize_built
                                                 TIMEOUT 1500 COST 1000 PROCESSORS ${_dvm_jobs})
  # The e2e files whose work is mostly guest-side Bash (the unsaved-work walk, the bundled
  # recipes, recipe headers, key generation) or repeats other files' commands (the README tour)
  # are left out of the sanitizer rerun: they add minutes to the suite and little C++ coverage.
  add_test(NAME sanitize.unit_e2e
    COMMAND "${CMAKE_COMMAND}" -DMODE=test "-DBINARY_DIR=${_dir}" "-DLABELS=^(unit|e2e)$"
            "-DEXCLUDE=^e2e[.](dirty_check|app_template|readme_tour|recipe_headers|keys)$"
            "-DJOBS=${_dvm_jobs}" "-DREPORTS=${_dir}/sanitizer-reports" -P "${_dvm_subtree}")
  set_tests_properties(sanitize.unit_e2e PROPERTIES LABELS sanitize FIXTURES_REQUIRED dvm_sanitize_built
                                                    TIMEOUT 1500 COST 900 PROCESSORS ${_dvm_jobs})
endif()

if(DVM_TEST_FUZZ)
  if(DVM_FUZZ_CXX)
    set(_cxx "${DVM_FUZZ_CXX}")
  else()
    find_program(_cxx NAMES clang++ clang++-16 clang++-15 clang++-14 NO_CACHE)
  endif()
  set(_fuzz_ok FALSE)
  if(_cxx)
    # libFuzzer and the sanitizer runtimes come with clang's runtime package (on Debian 12
    # libclang-rt-14-dev, which clang only recommends): check that a fuzzer links.
    set(_probe "${CMAKE_CURRENT_BINARY_DIR}/fuzz-probe")
    file(MAKE_DIRECTORY "${_probe}")
    file(WRITE "${_probe}/probe.cpp"
         "extern \"C\" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n")
    execute_process(COMMAND "${_cxx}" -fsanitize=fuzzer,address,undefined "${_probe}/probe.cpp"
                            -o "${_probe}/probe"
                    RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
    if(_rc EQUAL 0)
      set(_fuzz_ok TRUE)
    endif()
  endif()
  if(NOT _fuzz_ok)
    message(STATUS "fuzzing: no clang++ with libFuzzer (clang, libclang-rt-14-dev): the fuzz tests are not registered")
  else()
    set(_dir "${CMAKE_CURRENT_BINARY_DIR}/fuzz")
    add_test(NAME fuzz.build
      COMMAND "${CMAKE_COMMAND}" -DMODE=build "-DSOURCE_DIR=${_dvm_fuzz_dir}" "-DBINARY_DIR=${_dir}"
              "-DGENERATOR=${CMAKE_GENERATOR}" "-DCXX=${_cxx}" "-DJOBS=${_dvm_jobs}"
              "-DOPTIONS=-DCMAKE_BUILD_TYPE=RelWithDebInfo|-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=${_dvm_fuzz_build_flags}|-DDVM_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
              -P "${_dvm_subtree}")
    set_tests_properties(fuzz.build PROPERTIES LABELS fuzz FIXTURES_SETUP dvm_fuzz_built
                                               TIMEOUT 1500 COST 800 PROCESSORS ${_dvm_jobs})
    foreach(source IN LISTS _dvm_fuzz_sources)
      get_filename_component(name "${source}" NAME_WE)
      string(REGEX REPLACE "^fuzz_" "" name "${name}")
      add_test(NAME fuzz.${name}
        COMMAND "${CMAKE_COMMAND}" -DMODE=fuzz "-DFUZZER=${_dir}/fuzz_${name}" "-DNAME=${name}"
                "-DSEEDS=${_dvm_fuzz_dir}/corpus/${name}" "-DWORK=${_dir}/work"
                "-DSECONDS=${DVM_FUZZ_SECONDS}" -P "${_dvm_subtree}")
      math(EXPR _timeout "${DVM_FUZZ_SECONDS} + 300")
      set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz FIXTURES_REQUIRED dvm_fuzz_built
                                                   TIMEOUT ${_timeout} COST 500)
    endforeach()
  endif()
endif()
