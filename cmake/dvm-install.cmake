# Install rules, the CMake package config and a pkg-config file, so that
#   find_package(dvm CONFIG REQUIRED)  +  target_link_libraries(app PRIVATE dvm::dvm)
# or `c++ -std=c++20 app.cpp $(pkg-config --cflags --libs dvm)` works on an installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(DVM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/dvm" CACHE STRING "Where dvmConfig.cmake goes")

install(TARGETS dvm_dvm EXPORT dvmTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" NAMELINK_COMPONENT dvm_development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/libdvm/include/dvm" "${PROJECT_BINARY_DIR}/generated/include/dvm"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

if(TARGET dvm_cli)
  install(TARGETS dvm_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()

install(EXPORT dvmTargets NAMESPACE dvm:: DESTINATION "${DVM_INSTALL_CMAKEDIR}")
configure_package_config_file(cmake/dvmConfig.cmake.in
  "${PROJECT_BINARY_DIR}/dvmConfig.cmake"
  INSTALL_DESTINATION "${DVM_INSTALL_CMAKEDIR}")
# 0.x: minor versions may break the API, so only the same minor version is compatible.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/dvmConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/dvmConfig.cmake" "${PROJECT_BINARY_DIR}/dvmConfigVersion.cmake"
  DESTINATION "${DVM_INSTALL_CMAKEDIR}")

# pkg-config: the prefix is found from the .pc file's own directory (pkgconf's ${pcfiledir}),
# because `cmake --install --prefix` may put the tree elsewhere than CMAKE_INSTALL_PREFIX.
if(IS_ABSOLUTE "${DVM_INSTALL_PKGCONFIGDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "DVM_INSTALL_PKGCONFIGDIR and CMAKE_INSTALL_LIBDIR must be relative to the prefix")
endif()
file(RELATIVE_PATH DVM_PC_PREFIX_FROM_PCDIR "/prefix/${DVM_INSTALL_PKGCONFIGDIR}" "/prefix")
string(REGEX REPLACE "/$" "" DVM_PC_PREFIX_FROM_PCDIR "${DVM_PC_PREFIX_FROM_PCDIR}")
# A static libdvm brings its private dependencies along (a shared one has them as DT_NEEDED).
if(BUILD_SHARED_LIBS)
  set(DVM_PC_REQUIRES_PRIVATE "")
  set(DVM_PC_LIBS_PRIVATE "")
else()
  set(DVM_PC_REQUIRES_PRIVATE "tomlplusplus yaml-cpp libcrypto")
  set(DVM_PC_LIBS_PRIVATE "-lboost_json -lboost_filesystem -pthread")
endif()
configure_file(cmake/dvm.pc.in "${PROJECT_BINARY_DIR}/dvm.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/dvm.pc" DESTINATION "${DVM_INSTALL_PKGCONFIGDIR}")
