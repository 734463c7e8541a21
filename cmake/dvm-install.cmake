# Install rules and the CMake package config, so that
#   find_package(dvm CONFIG REQUIRED)  +  target_link_libraries(app PRIVATE dvm::dvm)
# works on an installed tree.
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
