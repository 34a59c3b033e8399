# cmake -DPLUGIN=file.wasm [-DMAX_SIZE=bytes] -P PrintPluginSize.cmake
# Prints the plugin's size during the build; warns when it is over MAX_SIZE.
file(SIZE ${PLUGIN} size)
get_filename_component(name ${PLUGIN} NAME)
math(EXPR kib "(${size} + 1023) / 1024")
if(MAX_SIZE AND size GREATER MAX_SIZE)
  message(WARNING "plugin ${name}: ${size} bytes (${kib} KiB), over its budget of ${MAX_SIZE}")
else()
  message(STATUS "plugin ${name}: ${size} bytes (${kib} KiB)")
endif()
