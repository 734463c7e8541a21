# Build options. Tests, examples, install rules and -Werror default ON only when libdvm is the
# top-level project, so a parent project that uses add_subdirectory() gets just the library.
include(CMakeDependentOption)
include(GNUInstallDirs)

set(_dvm_top ${PROJECT_IS_TOP_LEVEL})
option(DVM_BUILD_CLI "Build the dvm command-line tool" ON)
option(DVM_BUILD_TESTS "Build and register the test suite" ${_dvm_top})
option(DVM_BUILD_EXAMPLES "Build the example programs" ${_dvm_top})
option(DVM_BUILD_PYTHON "Build the Python module (needs Python development files and pybind11)" ${_dvm_top})
option(DVM_INSTALL "Generate install rules and the CMake package config" ${_dvm_top})
option(DVM_WERROR "Treat compiler warnings as errors" OFF)
option(DVM_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
# Here, not in dvm-install.cmake: the package tests (tests/, configured before the install
# rules) need it too.
set(DVM_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING "Where dvm.pc goes, below the prefix")
# BUILD_SHARED_LIBS and the build type are the parent project's to choose: as a subproject
# (add_subdirectory, FetchContent) libdvm sets neither, so it follows the parent's
# BUILD_SHARED_LIBS (static when unset) and never writes a cache entry the parent would inherit.
if(_dvm_top)
  option(BUILD_SHARED_LIBS "Build libdvm as a shared library" ON)
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
  endif()
endif()

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

# Warnings apply to our own targets only (dvm_set_warnings), never to consumers.
function(dvm_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
      -Wsign-conversion -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
      -Woverloaded-virtual -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
    if(DVM_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

if(DVM_SANITIZE)
  # float-cast-overflow: g++'s "undefined" leaves it out (clang's has it).
  add_compile_options(-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined,float-cast-overflow)
endif()
