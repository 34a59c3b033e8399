#include "runtime/module_info.h"

#include <cstring>

namespace wasmgate::runtime {
namespace {

constexpr uint8_t kMagic[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
constexpr uint8_t kTypeSection = 1;
constexpr uint8_t kImportSection = 2;
constexpr uint8_t kFunctionSection = 3;
constexpr uint8_t kMemorySection = 5;
constexpr uint8_t kExportSection = 7;

// Reads the binary with explicit bounds; every read reports failure instead of running past the
// end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool atEnd() const { return pos_ >= bytes_.size(); }
  size_t position() const { return pos_; }
  bool failed() const { return failed_; }

  uint8_t byte() {
    if (pos_ >= bytes_.size()) return fail();
    return bytes_[pos_++];
  }
  uint32_t u32() {
    uint64_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      uint8_t b = byte();
      if (failed_) return 0;
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (value > UINT32_MAX) return fail();
        return static_cast<uint32_t>(value);
      }
    }
    return fail();
  }
  std::string name() {
    uint32_t len = u32();
    if (failed_ || len > bytes_.size() - pos_) return fail(), std::string();
    std::string out(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return out;
  }
  std::span<const uint8_t> take(uint32_t len) {
    if (failed_ || len > bytes_.size() - pos_) return fail(), std::span<const uint8_t>();
    auto out = bytes_.subspan(pos_, len);
    pos_ += len;
    return out;
  }

 private:
  uint8_t fail() {
    failed_ = true;
    pos_ = bytes_.size();
    return 0;
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  bool failed_ = false;
};

bool readValType(Reader& r, ValType& out) {
  switch (r.byte()) {
    case 0x7f:
      out = ValType::kI32;
      return true;
    case 0x7e:
      out = ValType::kI64;
      return true;
    case 0x7d:
      out = ValType::kF32;
      return true;
    case 0x7c:
      out = ValType::kF64;
      return true;
    case 0x7b:
      out = ValType::kV128;
      return true;
    case 0x70:
      out = ValType::kFuncRef;
      return true;
    case 0x6f:
      out = ValType::kExternRef;
      return true;
    default:
      return false;
  }
}

bool readLimits(Reader& r, MemoryLimits& out) {
  uint8_t flags = r.byte();
  if (flags > 0x03) return false;  // memory64 and unknown flags are not supported
  out.minPages = r.u32();
  if (flags & 0x01) out.maxPages = r.u32();
  return !r.failed();
}

bool readTypes(Reader& r, std::vector<FuncType>& types) {
  uint32_t count = r.u32();
  for (uint32_t i = 0; i < count && !r.failed(); ++i) {
    if (r.byte() != 0x60) return false;
    FuncType type;
    for (auto* list : {&type.params, &type.results}) {
      uint32_t n = r.u32();
      for (uint32_t j = 0; j < n && !r.failed(); ++j) {
        ValType v;
        if (!readValType(r, v)) return false;
        list->push_back(v);
      }
    }
    types.push_back(std::move(type));
  }
  return !r.failed();
}

bool readImports(Reader& r, const std::vector<FuncType>& types, ModuleInfo& info,
                 std::vector<uint32_t>& funcTypes) {
  uint32_t count = r.u32();
  for (uint32_t i = 0; i < count && !r.failed(); ++i) {
    ImportDesc imp;
    imp.module = r.name();
    imp.name = r.name();
    uint8_t kind = r.byte();
    if (kind > 3) return false;
    imp.kind = static_cast<ExternKind>(kind);
    MemoryLimits limits;
    ValType v;
    switch (imp.kind) {
      case ExternKind::kFunction: {
        uint32_t typeIndex = r.u32();
        if (typeIndex >= types.size()) return false;
        imp.type = types[typeIndex];
        funcTypes.push_back(typeIndex);
        break;
      }
      case ExternKind::kTable:
        if (!readValType(r, v) || !readLimits(r, limits)) return false;
        break;
      case ExternKind::kMemory:
        if (!readLimits(r, limits)) return false;
        break;
      case ExternKind::kGlobal:
        if (!readValType(r, v)) return false;
        r.byte();  // mutability
        break;
    }
    info.imports.push_back(std::move(imp));
  }
  return !r.failed();
}

bool readExports(Reader& r, const std::vector<FuncType>& types,
                 const std::vector<uint32_t>& funcTypes, ModuleInfo& info) {
  uint32_t count = r.u32();
  for (uint32_t i = 0; i < count && !r.failed(); ++i) {
    ExportDesc exp;
    exp.name = r.name();
    uint8_t kind = r.byte();
    uint32_t index = r.u32();
    if (kind > 3) return false;
    exp.kind = static_cast<ExternKind>(kind);
    if (exp.kind == ExternKind::kFunction) {
      if (index >= funcTypes.size()) return false;
      exp.type = types[funcTypes[index]];
    }
    info.exports.push_back(std::move(exp));
  }
  return !r.failed();
}

Status malformed(const char* what) {
  return errorStatus(StatusCode::kBadArgument, std::string("not a valid Wasm module: ") + what);
}

void appendU32(std::vector<uint8_t>& out, uint32_t value) {
  do {
    uint8_t b = value & 0x7f;
    value >>= 7;
    if (value != 0) b |= 0x80;
    out.push_back(b);
  } while (value != 0);
}

}  // namespace

std::string FuncType::toString() const {
  auto list = [](const std::vector<ValType>& types) {
    static constexpr const char* kNames[] = {"i32",  "i64",     "f32",      "f64",
                                             "v128", "funcref", "externref"};
    std::string out = "(";
    for (size_t i = 0; i < types.size(); ++i) {
      if (i) out += ", ";
      out += kNames[static_cast<int>(types[i])];
    }
    return out + ")";
  };
  return list(params) + " -> " + list(results);
}

const ExportDesc* ModuleInfo::findExport(std::string_view name) const {
  for (const auto& e : exports) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const FuncType* ModuleInfo::exportedFunction(std::string_view name) const {
  const ExportDesc* e = findExport(name);
  return e && e->kind == ExternKind::kFunction ? &e->type : nullptr;
}

Result<ModuleInfo> parseModule(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return malformed("missing \\0asm magic");
  }
  if (std::memcmp(bytes.data() + 4, kMagic + 4, 4) != 0) return malformed("unsupported version");
  ModuleInfo info;
  std::vector<FuncType> types;
  std::vector<uint32_t> funcTypes;  // type index of every function, imported ones first
  Reader r(bytes.subspan(sizeof(kMagic)));
  while (!r.atEnd()) {
    uint8_t id = r.byte();
    uint32_t size = r.u32();
    Reader section(r.take(size));
    if (r.failed()) return malformed("section runs past the end");
    bool ok = true;
    switch (id) {
      case kTypeSection:
        ok = readTypes(section, types);
        break;
      case kImportSection:
        ok = readImports(section, types, info, funcTypes);
        break;
      case kFunctionSection: {
        uint32_t count = section.u32();
        for (uint32_t i = 0; i < count && ok; ++i) {
          uint32_t typeIndex = section.u32();
          ok = !section.failed() && typeIndex < types.size();
          funcTypes.push_back(typeIndex);
        }
        break;
      }
      case kMemorySection: {
        uint32_t count = section.u32();
        if (count > 1) return malformed("more than one memory");
        if (count == 1) {
          MemoryLimits limits;
          ok = readLimits(section, limits);
          info.memory = limits;
        }
        break;
      }
      case kExportSection:
        ok = readExports(section, types, funcTypes, info);
        break;
      default:
        break;  // other sections are V8's business
    }
    if (!ok || section.failed()) return malformed("bad section contents");
  }
  if (r.failed()) return malformed("truncated");
  return info;
}

Result<std::vector<uint8_t>> capModuleMemory(std::span<const uint8_t> bytes, uint32_t maxPages) {
  Result<ModuleInfo> info = parseModule(bytes);
  if (!info.isOk()) return info.status();
  std::vector<uint8_t> out(bytes.begin(), bytes.begin() + sizeof(kMagic));
  Reader r(bytes.subspan(sizeof(kMagic)));
  while (!r.atEnd()) {
    uint8_t id = r.byte();
    std::span<const uint8_t> body = r.take(r.u32());
    out.push_back(id);
    if (id != kMemorySection || !info->memory) {
      appendU32(out, static_cast<uint32_t>(body.size()));
      out.insert(out.end(), body.begin(), body.end());
      continue;
    }
    const MemoryLimits& limits = *info->memory;
    if (limits.minPages > maxPages) {
      return errorStatus(StatusCode::kMemoryCapExceeded,
                         "module needs " + std::to_string(limits.minPages) +
                             " pages of memory at start, the cap is " + std::to_string(maxPages));
    }
    uint32_t newMax = limits.maxPages ? std::min(*limits.maxPages, maxPages) : maxPages;
    Reader original(body);
    original.u32();  // count (1)
    uint8_t flags = original.byte();
    std::vector<uint8_t> section;
    appendU32(section, 1);
    section.push_back(static_cast<uint8_t>(flags | 0x01));
    appendU32(section, limits.minPages);
    appendU32(section, newMax);
    appendU32(out, static_cast<uint32_t>(section.size()));
    out.insert(out.end(), section.begin(), section.end());
  }
  return out;
}

}  // namespace wasmgate::runtime
