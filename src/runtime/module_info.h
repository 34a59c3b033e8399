// A reader for the parts of a Wasm binary the host needs before compiling it: function types,
// imports, exports and the memory section (which it can rewrite to cap linear memory).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace wasmgate::runtime {

enum class ValType : uint8_t { kI32, kI64, kF32, kF64, kV128, kFuncRef, kExternRef };

struct FuncType {
  std::vector<ValType> params;
  std::vector<ValType> results;

  bool operator==(const FuncType&) const = default;
  // "(i32, i32) -> i32", as error messages show it.
  std::string toString() const;
};

enum class ExternKind : uint8_t { kFunction = 0, kTable = 1, kMemory = 2, kGlobal = 3 };

struct ImportDesc {
  std::string module;
  std::string name;
  ExternKind kind = ExternKind::kFunction;
  FuncType type;  // for functions
};

struct ExportDesc {
  std::string name;
  ExternKind kind = ExternKind::kFunction;
  FuncType type;  // for functions
};

struct MemoryLimits {
  uint32_t minPages = 0;
  std::optional<uint32_t> maxPages;
};

struct ModuleInfo {
  std::vector<ImportDesc> imports;
  std::vector<ExportDesc> exports;
  std::optional<MemoryLimits> memory;  // the module's own (not imported) memory

  const ExportDesc* findExport(std::string_view name) const;
  // The type of an exported function, or nullptr if there is no function export by that name.
  const FuncType* exportedFunction(std::string_view name) const;
};

inline constexpr uint32_t kWasmPageSize = 64 * 1024;

// Parses the sections named above; any malformed byte gives a BadArgument status.
Result<ModuleInfo> parseModule(std::span<const uint8_t> bytes);

// Returns a copy of the module whose memory may not grow past maxPages (rewriting or adding the
// declared maximum). Fails if the module needs more than that at start-up.
Result<std::vector<uint8_t>> capModuleMemory(std::span<const uint8_t> bytes, uint32_t maxPages);

}  // namespace wasmgate::runtime
