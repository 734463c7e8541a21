# Third-party packages, all from Debian 12 (see scripts/dependencies.sh for the package names).
# None of them appears in a public header: they are private to libdvm.
find_package(Boost 1.81 REQUIRED COMPONENTS json filesystem) # JSON for limactl, Process v2 needs filesystem
find_package(tomlplusplus 3.3 REQUIRED)                       # config files
find_package(yaml-cpp REQUIRED)                               # reading an instance's lima.yaml back
find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)            # SHA-256 of recipe fingerprints (libcrypto only)
find_package(Threads REQUIRED)

if(DVM_BUILD_CLI)
  find_package(CLI11 2.1 REQUIRED)
endif()

if(DVM_BUILD_TESTS)
  find_package(doctest REQUIRED)
endif()

if(DVM_BUILD_PYTHON)
  # The module is built for one interpreter. Default: the system Python where there is one
  # (/usr/bin/python3: Debian's, with pytest, which the test suite uses), not whatever python3
  # comes first on PATH (a pyenv shim, a venv). Override with -DPython_EXECUTABLE=/path/to/python3;
  # scikit-build-core (pip install .) passes the interpreter it builds for.
  if(NOT DEFINED Python_EXECUTABLE AND NOT DEFINED SKBUILD AND EXISTS "/usr/bin/python3"
     AND CMAKE_HOST_SYSTEM_NAME STREQUAL "Linux")
    set(Python_EXECUTABLE "/usr/bin/python3" CACHE FILEPATH "Python interpreter the dvm module is built for")
  endif()
  # FindPython (not the old FindPythonLibs path, which breaks on pyenv shims) before pybind11.
  find_package(Python 3.9 COMPONENTS Interpreter Development.Module)
  if(Python_FOUND)
    find_package(pybind11 CONFIG)
  endif()
  if(NOT Python_FOUND OR NOT pybind11_FOUND)
    message(WARNING "Python development files or pybind11 not found: the Python module is not built")
    set(DVM_BUILD_PYTHON OFF)
  endif()
endif()
