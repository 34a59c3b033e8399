# Locates V8 10.2 as shipped in Debian's libnode108 / libnode-dev: the system copy, or the one
# scripts/setup.sh unpacked into .deps/libnode when a Node.js package conflicts with them.
set(_libnode_roots "${PROJECT_SOURCE_DIR}/.deps/libnode/usr" "/usr")
foreach(_root IN LISTS _libnode_roots)
  if(EXISTS "${_root}/include/node/v8-version.h" AND EXISTS "${_root}/lib/x86_64-linux-gnu/libnode.so.108")
    file(STRINGS "${_root}/include/node/v8-version.h" _major REGEX "define V8_MAJOR_VERSION 10")
    if(_major)
      set(LIBNODE_ROOT "${_root}")
      break()
    endif()
  endif()
endforeach()
if(NOT LIBNODE_ROOT)
  message(FATAL_ERROR "V8 10.2 (libnode108) not found: run scripts/setup.sh first")
endif()
message(STATUS "V8 from ${LIBNODE_ROOT}")
add_library(v8::v8 SHARED IMPORTED)
set_target_properties(v8::v8 PROPERTIES
  IMPORTED_LOCATION "${LIBNODE_ROOT}/lib/x86_64-linux-gnu/libnode.so.108"
  IMPORTED_NO_SONAME FALSE
  INTERFACE_INCLUDE_DIRECTORIES "${LIBNODE_ROOT}/include/node"
)
set(CMAKE_BUILD_RPATH "${LIBNODE_ROOT}/lib/x86_64-linux-gnu")
set(CMAKE_INSTALL_RPATH "${LIBNODE_ROOT}/lib/x86_64-linux-gnu")
