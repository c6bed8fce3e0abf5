# Third-party libraries, all from Debian packages (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
# libsodium: the cluster token proves itself by HMAC-SHA256 instead of
# travelling (src/node/auth.hpp); a vetted primitive, not one of our own.
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

# Asio ships no CMake config. Its defines must be identical in every
# translation unit that includes it (ODR), so they live on one target.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(weft_asio INTERFACE)
target_include_directories(weft_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(weft_asio INTERFACE ASIO_NO_DEPRECATED)
target_link_libraries(weft_asio INTERFACE Threads::Threads)

include(${CMAKE_CURRENT_LIST_DIR}/CapnProto.cmake)

# cereal: user types with a serialize() member travel through it.
find_path(CEREAL_INCLUDE_DIR cereal/cereal.hpp REQUIRED)

if(WEFT_USE_MIMALLOC)
  find_package(mimalloc 2.0 REQUIRED)
endif()
