// The V8 backend: the only file set in wasmgate that includes V8.
#pragma once

#include <memory>

#include "runtime/wasm_vm.h"

namespace wasmgate::runtime {

// V8 itself is process-wide: the first call initialises it, and every engine shares that.
std::unique_ptr<WasmEngine> createV8Engine();

}  // namespace wasmgate::runtime
