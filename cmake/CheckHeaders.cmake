# check_headers: compiles every public header on its own, so a header that
# leans on what its includer happened to include fails here, not in a user's
# build (Seastar's checkheaders). impl/*.ipp files are bodies, not headers, and
# are compiled by src/weft.cpp; detail/ headers are checked like the rest.
# Each generated source includes its header twice, which also catches a
# missing #pragma once.
file(GLOB_RECURSE WEFT_PUBLIC_HEADERS CONFIGURE_DEPENDS
     RELATIVE ${PROJECT_SOURCE_DIR}/include
     ${PROJECT_SOURCE_DIR}/include/weft/*.hpp)
list(FILTER WEFT_PUBLIC_HEADERS EXCLUDE REGEX "(^|/)impl/")

set(WEFT_CHECK_HEADER_SOURCES)
foreach(header IN LISTS WEFT_PUBLIC_HEADERS)
  string(REGEX REPLACE "\\.hpp$" ".cpp" source ${header})
  set(source ${PROJECT_BINARY_DIR}/check_headers/${source})
  # file(CONFIGURE) rewrites only on change, so reconfiguring rebuilds nothing.
  file(CONFIGURE OUTPUT ${source}
       CONTENT "#include \"${header}\"\n#include \"${header}\"\n")
  list(APPEND WEFT_CHECK_HEADER_SOURCES ${source})
endforeach()

add_library(check_headers OBJECT ${WEFT_CHECK_HEADER_SOURCES})
target_link_libraries(check_headers PRIVATE weft::weft weft_warnings)
# A unity build would compile headers together and hide exactly what we check.
set_target_properties(check_headers PROPERTIES UNITY_BUILD OFF)
