# Cap'n Proto (Debian's 0.9.2): the wire between nodes (DESIGN.md §7).
# find_package(CapnProto) needs the C language enabled (its libatomic check runs in C).
find_package(CapnProto 0.9 REQUIRED)

# weft_capnp_generate(<target> <schema.capnp>...)
# Compiles the schemas into <target>. A schema at <dir>/x.capnp, relative to
# the calling CMakeLists.txt's folder, is included as "<dir>/x.capnp.h".
# Generated code is compiled without weft's warnings (it is not ours to fix).
function(weft_capnp_generate target)
  set(CAPNPC_SRC_PREFIX ${CMAKE_CURRENT_SOURCE_DIR})
  set(CAPNPC_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/capnp_gen)
  file(MAKE_DIRECTORY ${CAPNPC_OUTPUT_DIR})
  foreach(schema ${ARGN})
    get_filename_component(schema_dir ${schema} DIRECTORY)
    if(schema_dir)
      file(MAKE_DIRECTORY ${CAPNPC_OUTPUT_DIR}/${schema_dir})
    endif()
  endforeach()
  capnp_generate_cpp(sources headers ${ARGN})
  set_source_files_properties(${sources} PROPERTIES COMPILE_OPTIONS "-w")
  target_sources(${target} PRIVATE ${sources} ${headers})
  target_include_directories(${target} SYSTEM PRIVATE ${CAPNPC_OUTPUT_DIR})
  target_link_libraries(${target} PUBLIC CapnProto::capnp-rpc)
endfunction()
