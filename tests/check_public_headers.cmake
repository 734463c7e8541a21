# Fails when a public header includes or names Boost, toml++, yaml-cpp or pybind11.
file(GLOB headers "${DIR}/dvm/*.hpp")
foreach(h IN LISTS headers)
  file(READ "${h}" text)
  foreach(pattern "#include <boost" "#include <toml++" "#include <yaml-cpp" "#include <pybind11"
                  "boost::" "toml::" "YAML::" "pybind11::" "py::")
    string(FIND "${text}" "${pattern}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${h} mentions \"${pattern}\": public headers must not expose third-party types")
    endif()
  endforeach()
endforeach()
message(STATUS "public headers are clean")
