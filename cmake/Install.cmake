# Install rules and the CMake package, so another project can write
#
#   find_package(weft REQUIRED)
#   target_link_libraries(app PRIVATE weft::weft)
#
# Layout under the prefix: bin/weft (the cluster tool), include/weft/** (.hpp
# and impl/*.ipp), lib/libweft.a,
# lib/cmake/weft/{weftConfig,weftConfigVersion,weftTargets}.cmake.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WEFT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/weft)

# weft links weft_asio only in the build tree (its include dir is an absolute
# path on this machine). Installed, the Asio defines travel on an exported
# target weft::asio; weftConfig.cmake finds Asio's headers on the consumer's
# machine and adds them. The defines are read from weft_asio, so the installed
# set is always the one in cmake/Dependencies.cmake (ODR).
get_target_property(WEFT_ASIO_DEFINITIONS weft_asio INTERFACE_COMPILE_DEFINITIONS)
add_library(weft_asio_install INTERFACE)
set_target_properties(weft_asio_install PROPERTIES EXPORT_NAME asio)
target_compile_definitions(weft_asio_install INTERFACE ${WEFT_ASIO_DEFINITIONS})
target_link_libraries(weft_asio_install INTERFACE Threads::Threads)
set_property(TARGET weft APPEND PROPERTY INTERFACE_LINK_LIBRARIES
                                         $<INSTALL_INTERFACE:weft::asio>)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/weft
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.ipp")
# Headers generated at build time (e.g. from src/weft.capnp) get their own
# install(DIRECTORY|FILES ...) here.

install(TARGETS weft weft_asio_install
        EXPORT weftTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The `weft` command (status, stop) belongs with the library: an installed
# cluster is operated with it.
install(TARGETS weft_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT weftTargets
        NAMESPACE weft::
        DESTINATION ${WEFT_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/weftConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/weftConfig.cmake
                              INSTALL_DESTINATION ${WEFT_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weftConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weftConfig.cmake
              ${PROJECT_BINARY_DIR}/weftConfigVersion.cmake
        DESTINATION ${WEFT_INSTALL_CMAKEDIR})
