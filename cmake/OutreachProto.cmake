# outreach_proto_library(<target>
#   PROTO_ROOT <dir>          # import root the PROTOS are relative to
#   PROTOS <rel/path.proto>...
#   [GRPC]                    # also generate gRPC service stubs, in a second library
#   [IMPORT_DIRS <dir>...]    # extra import roots (e.g. Debian's googleapis copy)
#   [DEPS <target>...])       # proto libraries these files import
#
# Generates C++ into the build tree at configure-independent paths and wraps it in one static
# library per proto package: <target> holds the messages (links protobuf only, so domain code can
# use them without gRPC); with GRPC, <stem>_grpc (the name with "_proto" replaced by "_grpc")
# holds the service stubs and links gRPC. Generated code is never committed and is compiled
# without our -Werror flags because we do not own it.
function(outreach_proto_library target)
  cmake_parse_arguments(ARG "GRPC" "PROTO_ROOT" "PROTOS;IMPORT_DIRS;DEPS" ${ARGN})
  if(NOT ARG_PROTO_ROOT OR NOT ARG_PROTOS)
    message(FATAL_ERROR "outreach_proto_library(${target}): PROTO_ROOT and PROTOS are required")
  endif()
  set(out_dir "${CMAKE_BINARY_DIR}/generated")
  file(MAKE_DIRECTORY "${out_dir}")

  set(import_args "-I${ARG_PROTO_ROOT}")
  foreach(dir IN LISTS ARG_IMPORT_DIRS)
    list(APPEND import_args "-I${dir}")
  endforeach()
  foreach(dep IN LISTS ARG_DEPS)
    get_target_property(dep_roots ${dep} OUTREACH_PROTO_IMPORT_DIRS)
    foreach(dir IN LISTS dep_roots)
      list(APPEND import_args "-I${dir}")
    endforeach()
  endforeach()
  list(APPEND import_args "-I${Protobuf_INCLUDE_DIRS}")
  list(REMOVE_DUPLICATES import_args)

  set(sources)
  set(headers)
  set(grpc_sources)
  set(grpc_headers)
  set(abs_protos)
  foreach(proto IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    list(APPEND sources "${out_dir}/${stem}.pb.cc")
    list(APPEND headers "${out_dir}/${stem}.pb.h")
    if(ARG_GRPC)
      list(APPEND grpc_sources "${out_dir}/${stem}.grpc.pb.cc")
      list(APPEND grpc_headers "${out_dir}/${stem}.grpc.pb.h")
    endif()
    list(APPEND abs_protos "${ARG_PROTO_ROOT}/${proto}")
  endforeach()

  set(plugin_args)
  if(ARG_GRPC)
    set(plugin_args "--grpc_out=${out_dir}"
                    "--plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>")
  endif()
  add_custom_command(
    OUTPUT ${sources} ${headers} ${grpc_sources} ${grpc_headers}
    COMMAND protobuf::protoc ${import_args} "--cpp_out=${out_dir}" ${plugin_args} ${ARG_PROTOS}
    WORKING_DIRECTORY "${ARG_PROTO_ROOT}"
    DEPENDS ${abs_protos} protobuf::protoc
    COMMENT "protoc: ${target}"
    VERBATIM)

  add_library(${target} STATIC ${sources} ${headers})
  target_include_directories(${target} SYSTEM PUBLIC "${out_dir}")
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    string(REGEX REPLACE "_proto$" "" grpc_stem "${target}")
    set(grpc_target "${grpc_stem}_grpc")
    add_library(${grpc_target} STATIC ${grpc_sources} ${grpc_headers})
    target_link_libraries(${grpc_target} PUBLIC ${target} gRPC::grpc++)
    set_target_properties(${grpc_target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
  set(roots "${ARG_PROTO_ROOT}" ${ARG_IMPORT_DIRS})
  set_target_properties(${target} PROPERTIES OUTREACH_PROTO_IMPORT_DIRS "${roots}"
                                             POSITION_INDEPENDENT_CODE ON)
endfunction()
