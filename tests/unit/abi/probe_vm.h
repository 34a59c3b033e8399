// A started PluginVm of the hostcall_probe fixture, with a fake host and one stream context.
// Tests write arguments into the first page of guest memory (the probe's heap starts above it),
// call `call_<hostcall>` exports, and read back what the host wrote.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "abi/pairs.h"
#include "abi/plugin_vm.h"
#include "abi/shared_state.h"
#include "fakes/fake_hosts.h"
#include "runtime/v8/v8_engine.h"

namespace wasmgate::testing {

inline runtime::WasmEngine& testEngine() {
  static std::unique_ptr<runtime::WasmEngine> engine = runtime::createV8Engine();
  return *engine;
}

inline std::vector<uint8_t> readFixture(const std::string& name) {
  std::ifstream in(std::string(WASM_FIXTURE_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline abi::PluginSpec specWithVmId(std::string vmId) {
  abi::PluginSpec spec;
  spec.vmId = std::move(vmId);
  return spec;
}

class ProbeVm {
 public:
  explicit ProbeVm(abi::PluginSpec spec = {}, std::string fixture = "hostcall_probe.wasm") {
    auto module = abi::PluginModule::load(testEngine(), readFixture(fixture), abi::VmLimits{});
    EXPECT_TRUE(module.isOk()) << module.status().toString();
    auto created = abi::PluginVm::create(*module, std::move(spec), host);
    EXPECT_TRUE(created.isOk()) << created.status().toString();
    vm = std::move(created).value();
    EXPECT_TRUE(vm->start().isOk());
    auto id = vm->createStream(stream);
    EXPECT_TRUE(id.isOk());
    streamId = *id;
  }

  // Calls call_<hostcall> with all-i32 arguments in `context` (default: the stream).
  uint32_t call(const std::string& hostcall, std::vector<uint64_t> args, uint32_t context = 0,
                abi::PluginVm::Frame frame = {}) {
    runtime::FuncType type{std::vector<runtime::ValType>(args.size(), runtime::ValType::kI32),
                           {runtime::ValType::kI32}};
    auto r = vm->callExport("call_" + hostcall, type, args, context ? context : streamId,
                            std::move(frame));
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? static_cast<uint32_t>(*r) : 0xdeadbeef;
  }
  abi::WasmResult result(const std::string& hostcall, std::vector<uint64_t> args,
                         uint32_t context = 0, abi::PluginVm::Frame frame = {}) {
    return static_cast<abi::WasmResult>(call(hostcall, std::move(args), context, std::move(frame)));
  }

  // Writes `bytes` at `ptr` in guest memory and returns ptr.
  uint32_t put(uint32_t ptr, std::string_view bytes) {
    EXPECT_TRUE(vm->wasm().write(ptr, bytes));
    return ptr;
  }
  uint32_t u32At(uint32_t ptr) { return vm->wasm().readU32(ptr).value_or(0xdeadbeef); }
  uint64_t u64At(uint32_t ptr) {
    auto r = vm->wasm().range(ptr, 8);
    uint64_t v = 0;
    if (r) std::memcpy(&v, r->data(), 8);
    return v;
  }
  // The bytes a hostcall returned through a (data slot, size slot) pair.
  std::string returned(uint32_t dataSlot, uint32_t sizeSlot) {
    auto s = vm->wasm().readString(u32At(dataSlot), u32At(sizeSlot));
    return s ? std::string(*s) : std::string("<bad>");
  }
  uint32_t memorySize() { return static_cast<uint32_t>(vm->wasm().memory().size()); }

  FakePluginHost host;
  FakeStream stream;
  std::unique_ptr<abi::PluginVm> vm;
  uint32_t streamId = 0;
};

}  // namespace wasmgate::testing
