#include "runtime/module_info.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace wasmgate::runtime {
namespace {

std::vector<uint8_t> readFixture(const std::string& name) {
  std::ifstream in(std::string(WASM_FIXTURE_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ModuleInfoTest, ListsImportsExportsAndMemory) {
  auto bytes = readFixture("runtime_basics.wasm");
  ASSERT_FALSE(bytes.empty());
  Result<ModuleInfo> info = parseModule(bytes);
  ASSERT_TRUE(info.isOk()) << info.status().toString();
  ASSERT_EQ(info->imports.size(), 3u);
  EXPECT_EQ(info->imports[0].module, "env");
  EXPECT_EQ(info->imports[0].name, "host_add");
  EXPECT_EQ(info->imports[0].type.toString(), "(i32, i32) -> (i32)");
  EXPECT_EQ(info->imports[1].type.toString(), "(i64) -> (i64)");
  const FuncType* add = info->exportedFunction("add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->toString(), "(i32, i32) -> (i32)");
  EXPECT_EQ(info->exportedFunction("memory"), nullptr);  // a memory, not a function
  EXPECT_EQ(info->exportedFunction("missing"), nullptr);
  ASSERT_TRUE(info->memory.has_value());
  EXPECT_EQ(info->memory->minPages, 1u);
  EXPECT_FALSE(info->memory->maxPages.has_value());
}

TEST(ModuleInfoTest, RejectsGarbage) {
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  Result<ModuleInfo> info = parseModule(text);
  ASSERT_FALSE(info.isOk());
  EXPECT_EQ(info.status().code(), StatusCode::kBadArgument);
  EXPECT_NE(info.status().message().find("magic"), std::string::npos);
}

TEST(ModuleInfoTest, RejectsEveryTruncation) {
  auto bytes = readFixture("runtime_basics.wasm");
  // A module cut anywhere inside a section must be refused, never read past its end.
  for (size_t len = 9; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    Result<ModuleInfo> info = parseModule(cut);
    if (info.isOk()) continue;  // a cut exactly between sections is a valid (shorter) module
    EXPECT_EQ(info.status().code(), StatusCode::kBadArgument);
  }
}

TEST(ModuleInfoTest, CapsMemoryByAddingAMaximum) {
  auto bytes = readFixture("runtime_basics.wasm");
  Result<std::vector<uint8_t>> capped = capModuleMemory(bytes, 4);
  ASSERT_TRUE(capped.isOk()) << capped.status().toString();
  Result<ModuleInfo> info = parseModule(*capped);
  ASSERT_TRUE(info.isOk());
  ASSERT_TRUE(info->memory->maxPages.has_value());
  EXPECT_EQ(*info->memory->maxPages, 4u);
  EXPECT_EQ(info->memory->minPages, 1u);
  EXPECT_EQ(info->exports.size(), parseModule(bytes)->exports.size());
}

TEST(ModuleInfoTest, RefusesACapBelowTheInitialSize) {
  auto bytes = readFixture("runtime_basics.wasm");
  Result<std::vector<uint8_t>> capped = capModuleMemory(bytes, 0);
  ASSERT_FALSE(capped.isOk());
  EXPECT_EQ(capped.status().code(), StatusCode::kMemoryCapExceeded);
}

}  // namespace
}  // namespace wasmgate::runtime
