# wasmgate_add_plugin(NAME SOURCES src... [INCLUDE_DIRECTORIES dir...]
#                     [COMPILE_OPTIONS opt...] [LINK_OPTIONS opt...] [DEPENDS file...]
#                     [MAX_SIZE bytes])
#
# Builds ${CMAKE_BINARY_DIR}/plugins/NAME.wasm from C++ sources with the wasmgate C++ SDK:
# clang++ --target=wasm32-wasi against Debian's wasi-libc and wasm32 libc++, as a WASI
# reactor, -Oz, no exceptions, no RTTI, then `wasm-opt -Oz` when binaryen is installed.
# Each source is compiled separately (with a depfile, so header edits rebuild), then
# linked. Adds the target NAME_plugin to ALL. The build prints the plugin's size, and a
# warning when it exceeds MAX_SIZE.
#
# The compiler runs directly through add_custom_command; the project's own compiler
# (g++) is not involved. Cache variables: WASMGATE_WASM_CXX, WASMGATE_WASI_SYSROOT,
# WASMGATE_WASM_OPT.

find_program(WASMGATE_WASM_CXX NAMES clang++-14 clang++
  DOC "clang++ used to build plugins for wasm32-wasi")
set(WASMGATE_WASI_SYSROOT "/usr" CACHE PATH
  "Sysroot holding include/wasm32-wasi and lib/wasm32-wasi (Debian: /usr)")
find_program(WASMGATE_WASM_OPT wasm-opt DOC "binaryen's wasm-opt (optional)")

set(WASMGATE_PLUGINS_ENABLED ON)
if(NOT WASMGATE_WASM_CXX)
  message(WARNING "wasmgate: no clang++ found; plugins will not be built")
  set(WASMGATE_PLUGINS_ENABLED OFF)
elseif(NOT EXISTS ${WASMGATE_WASI_SYSROOT}/include/wasm32-wasi/stdlib.h)
  message(WARNING "wasmgate: no wasi-libc under ${WASMGATE_WASI_SYSROOT}/include/wasm32-wasi; "
                  "plugins will not be built (apt install wasi-libc libc++-14-dev-wasm32 "
                  "libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32)")
  set(WASMGATE_PLUGINS_ENABLED OFF)
endif()
set(WASMGATE_PLUGINS_ENABLED ${WASMGATE_PLUGINS_ENABLED} CACHE INTERNAL "")
if(WASMGATE_PLUGINS_ENABLED AND NOT WASMGATE_WASM_OPT)
  message(STATUS "wasmgate: wasm-opt not found; plugins are linked without it")
endif()

set(WASMGATE_SDK_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR}/../include CACHE INTERNAL "")
set(WASMGATE_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins CACHE INTERNAL "")

function(wasmgate_add_plugin NAME)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "MAX_SIZE"
                        "SOURCES;INCLUDE_DIRECTORIES;COMPILE_OPTIONS;LINK_OPTIONS;DEPENDS")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "wasmgate_add_plugin(${NAME}): SOURCES is required")
  endif()
  if(NOT WASMGATE_PLUGINS_ENABLED)
    return()
  endif()

  set(common --target=wasm32-wasi --sysroot=${WASMGATE_WASI_SYSROOT})
  set(compile_flags ${common} -std=c++20 -Oz -fno-exceptions -fno-rtti -Wall -Wextra
      -I${WASMGATE_SDK_INCLUDE_DIR})
  foreach(dir ${ARG_INCLUDE_DIRECTORIES})
    get_filename_component(dir ${dir} ABSOLUTE)
    list(APPEND compile_flags -I${dir})
  endforeach()
  list(APPEND compile_flags ${ARG_COMPILE_OPTIONS})
  # A reactor (exports _initialize, no main); the SDK's exports plus malloc and memory only.
  set(link_flags ${common} -mexec-model=reactor -Wl,--export=malloc -Wl,--strip-debug
      ${ARG_LINK_OPTIONS})

  set(work_dir ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.plugin)
  set(objects "")
  set(index 0)
  foreach(src ${ARG_SOURCES})
    get_filename_component(src ${src} ABSOLUTE)
    get_filename_component(base ${src} NAME)
    set(obj ${work_dir}/${index}_${base}.o)
    add_custom_command(OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${work_dir}
      COMMAND ${WASMGATE_WASM_CXX} ${compile_flags} -MD -MF ${obj}.d -c ${src} -o ${obj}
      DEPENDS ${src} ${ARG_DEPENDS}
      DEPFILE ${obj}.d
      COMMENT "Compiling ${base} for plugin ${NAME} (wasm32-wasi)"
      VERBATIM COMMAND_EXPAND_LISTS)
    list(APPEND objects ${obj})
    math(EXPR index "${index} + 1")
  endforeach()

  set(out ${WASMGATE_PLUGIN_OUTPUT_DIR}/${NAME}.wasm)
  set(linked ${work_dir}/${NAME}.linked.wasm)
  if(WASMGATE_WASM_OPT)
    set(optimize ${WASMGATE_WASM_OPT} -Oz ${linked} -o ${out})
  else()
    set(optimize ${CMAKE_COMMAND} -E copy ${linked} ${out})
  endif()
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${WASMGATE_PLUGIN_OUTPUT_DIR}
    COMMAND ${WASMGATE_WASM_CXX} ${link_flags} ${objects} -o ${linked}
    COMMAND ${optimize}
    COMMAND ${CMAKE_COMMAND} -DPLUGIN=${out} -DMAX_SIZE=${ARG_MAX_SIZE}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/PrintPluginSize.cmake
    DEPENDS ${objects} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/PrintPluginSize.cmake
    COMMENT "Linking plugin ${NAME}.wasm"
    VERBATIM COMMAND_EXPAND_LISTS)
  add_custom_target(${NAME}_plugin ALL DEPENDS ${out})
  set_target_properties(${NAME}_plugin PROPERTIES WASMGATE_PLUGIN_FILE ${out})
endfunction()
