#include "runtime/v8/v8_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <thread>

namespace wasmgate::runtime {
namespace {

using std::chrono_literals::operator""ms;

const FuncType kI32x2ToI32{{ValType::kI32, ValType::kI32}, {ValType::kI32}};
const FuncType kI64ToI64{{ValType::kI64}, {ValType::kI64}};
const FuncType kVoid{};

Status hostAdd(WasmInstance&, std::span<const uint64_t> args, uint64_t& result) {
  result = static_cast<uint32_t>(args[0] + args[1]);
  return Status::ok();
}
Status hostWide(WasmInstance&, std::span<const uint64_t> args, uint64_t& result) {
  result = args[0] * 2;
  return Status::ok();
}
Status hostFail(WasmInstance&, std::span<const uint64_t>, uint64_t&) {
  return errorStatus(StatusCode::kBadArgument, "host refused");
}

HostFunctionTable testHosts() {
  HostFunctionTable table;
  table.add({"env", "host_add", kI32x2ToI32, hostAdd});
  table.add({"env", "host_wide", kI64ToI64, hostWide});
  table.add({"env", "host_fail", kVoid, hostFail});
  return table;
}

std::vector<uint8_t> readFixture(const std::string& name) {
  std::ifstream in(std::string(WASM_FIXTURE_DIR) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class V8EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = createV8Engine().release(); }
  static void TearDownTestSuite() {
    delete engine_;  // NOLINT: a suite-wide engine, created once
    engine_ = nullptr;
  }

  std::unique_ptr<WasmInstance> instantiate(CompileOptions compile = {},
                                            InstanceOptions options = {}) {
    auto module = engine_->compile(readFixture("runtime_basics.wasm"), compile);
    EXPECT_TRUE(module.isOk()) << module.status().toString();
    if (!module.isOk()) return nullptr;
    auto instance = engine_->instantiate(*module, hosts_, options);
    EXPECT_TRUE(instance.isOk()) << instance.status().toString();
    return instance.isOk() ? std::move(instance).value() : nullptr;
  }

  static Result<uint64_t> callExport(WasmInstance& vm, std::string_view name, const FuncType& type,
                                     std::vector<uint64_t> args) {
    auto fn = vm.function(name, type);
    if (!fn) return errorStatus(StatusCode::kNotFound, std::string(name));
    uint64_t result = 0;
    Status s = vm.call(*fn, args, &result);
    if (!s.isOk()) return s;
    return result;
  }

  // With `batch` open and holding `vm`'s isolate on this thread: a call from another thread waits
  // until the batch ends, while this thread keeps calling (`meanwhile`). Closes the batch.
  static void expectAnotherThreadWaitsForTheBatch(WasmInstance& vm, std::optional<CallBatch>& batch,
                                                  const std::function<void()>& meanwhile = {}) {
    std::atomic<bool> batchOpen{true}, otherCalled{false};
    std::thread other([&] {
      auto r = callExport(vm, "add", kI32x2ToI32, {20, 22});
      EXPECT_FALSE(batchOpen.load()) << "ran while the batch still held the isolate";
      EXPECT_EQ(*r, 42u);
      otherCalled = true;
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(otherCalled.load());
    if (meanwhile) meanwhile();
    batchOpen = false;
    batch.reset();
    other.join();
    EXPECT_TRUE(otherCalled.load());
  }

  static WasmEngine* engine_;
  HostFunctionTable hosts_ = testHosts();
};
WasmEngine* V8EngineTest::engine_ = nullptr;

TEST_F(V8EngineTest, CallsExportsAndHostFunctions) {
  auto vm = instantiate();
  ASSERT_TRUE(vm);
  EXPECT_EQ(*callExport(*vm, "add", kI32x2ToI32, {40, 2}), 42u);
  EXPECT_EQ(*callExport(*vm, "via_host", {{ValType::kI32}, {ValType::kI32}}, {5}), 105u);
  EXPECT_EQ(*callExport(*vm, "add64", {{ValType::kI64, ValType::kI64}, {ValType::kI64}},
                        {0x100000000ull, 0x200000000ull}),
            0x300000000ull);
  EXPECT_EQ(*callExport(*vm, "via_host_wide", kI64ToI64, {0x7fffffffffull}), 0xfffffffffeull);
}

TEST_F(V8EngineTest, ExportLookupChecksTheType) {
  auto vm = instantiate();
  ASSERT_TRUE(vm);
  EXPECT_FALSE(vm->function("add", kVoid).has_value());
  EXPECT_FALSE(vm->function("nope", kVoid).has_value());
  EXPECT_TRUE(vm->function("add", kI32x2ToI32).has_value());
}

TEST_F(V8EngineTest, GuestMemoryIsBoundsChecked) {
  auto vm = instantiate();
  ASSERT_TRUE(vm);
  EXPECT_EQ(vm->memory().size(), kWasmPageSize);
  EXPECT_EQ(*vm->readString(16, 5), "hello");
  EXPECT_FALSE(vm->readString(kWasmPageSize - 2, 3).has_value());
  EXPECT_FALSE(vm->readString(0xffffffffu, 2).has_value());  // would wrap in 32 bits
  EXPECT_TRUE(vm->writeU32(kWasmPageSize - 4, 7));
  EXPECT_FALSE(vm->writeU32(kWasmPageSize - 3, 7));
  EXPECT_FALSE(vm->writeU64(kWasmPageSize - 4, 7));
  EXPECT_EQ(*callExport(*vm, "load", {{ValType::kI32}, {ValType::kI32}}, {kWasmPageSize - 4}), 7u);
}

TEST_F(V8EngineTest, TrapsBecomeStatuses) {
  auto vm = instantiate();
  ASSERT_TRUE(vm);
  auto trap = callExport(*vm, "unreachable", kVoid, {});
  ASSERT_FALSE(trap.isOk());
  EXPECT_EQ(trap.status().code(), StatusCode::kTrap);
  EXPECT_NE(trap.status().message().find("unreachable"), std::string::npos);

  auto oob = callExport(*vm, "out_of_bounds", {{}, {ValType::kI32}}, {});
  ASSERT_FALSE(oob.isOk());
  EXPECT_EQ(oob.status().code(), StatusCode::kTrap);

  auto overflow = callExport(*vm, "recurse", {{ValType::kI32}, {ValType::kI32}}, {0});
  ASSERT_FALSE(overflow.isOk());
  EXPECT_EQ(overflow.status().code(), StatusCode::kTrap);

  auto refused = callExport(*vm, "call_failing_host", kVoid, {});
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kBadArgument);
  EXPECT_EQ(refused.status().message(), "host refused");

  // The instance still answers after each failure.
  EXPECT_EQ(*callExport(*vm, "add", kI32x2ToI32, {1, 2}), 3u);
}

TEST_F(V8EngineTest, DeadlineStopsAnEndlessLoop) {
  auto vm = instantiate({}, InstanceOptions{50ms, nullptr});
  ASSERT_TRUE(vm);
  auto start = std::chrono::steady_clock::now();
  auto spun = callExport(*vm, "spin", kVoid, {});
  ASSERT_FALSE(spun.isOk());
  EXPECT_EQ(spun.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(*callExport(*vm, "add", kI32x2ToI32, {2, 2}), 4u);
}

TEST_F(V8EngineTest, MemoryCapStopsGrowth) {
  auto vm = instantiate(CompileOptions{8});
  ASSERT_TRUE(vm);
  auto grown = callExport(*vm, "grow_forever", kVoid, {});
  ASSERT_FALSE(grown.isOk());
  EXPECT_EQ(grown.status().code(), StatusCode::kMemoryCapExceeded);
  EXPECT_EQ(*callExport(*vm, "pages", {{}, {ValType::kI32}}, {}), 8u);
}

TEST_F(V8EngineTest, MissingImportFailsToLinkWithItsName) {
  HostFunctionTable partial;
  partial.add({"env", "host_add", kI32x2ToI32, hostAdd});
  auto module = engine_->compile(readFixture("runtime_basics.wasm"), {});
  ASSERT_TRUE(module.isOk());
  auto instance = engine_->instantiate(*module, partial, {});
  ASSERT_FALSE(instance.isOk());
  EXPECT_EQ(instance.status().code(), StatusCode::kLinkError);
  EXPECT_EQ(instance.status().message(), "missing import env.host_wide");
}

TEST_F(V8EngineTest, ImportWithWrongTypeFailsToLink) {
  HostFunctionTable wrong = testHosts();
  HostFunctionTable table;
  table.add({"env", "host_add", kVoid, hostAdd});
  for (const auto& fn : wrong.all()) {
    if (fn.name != "host_add") table.add(fn);
  }
  auto module = engine_->compile(readFixture("runtime_basics.wasm"), {});
  ASSERT_TRUE(module.isOk());
  auto instance = engine_->instantiate(*module, table, {});
  ASSERT_FALSE(instance.isOk());
  EXPECT_EQ(instance.status().code(), StatusCode::kLinkError);
  EXPECT_NE(instance.status().message().find("env.host_add"), std::string::npos);
}

TEST_F(V8EngineTest, RejectsBytesThatAreNotWasm) {
  std::string text = "definitely not wasm";
  auto module = engine_->compile({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, {});
  ASSERT_FALSE(module.isOk());
  EXPECT_EQ(module.status().code(), StatusCode::kBadArgument);
}

TEST_F(V8EngineTest, OneCompiledModuleServesInstancesOnManyThreads) {
  auto module = engine_->compile(readFixture("runtime_basics.wasm"), {});
  ASSERT_TRUE(module.isOk());
  std::atomic<int> correct{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto vm = engine_->instantiate(*module, hosts_, {});
      if (!vm.isOk()) return;
      for (int i = 0; i < 1000; ++i) {
        auto r = callExport(**vm, "via_host", {{ValType::kI32}, {ValType::kI32}},
                            {static_cast<uint64_t>(t * 1000 + i)});
        if (r.isOk() && *r == static_cast<uint64_t>(t * 1000 + i + 100)) ++correct;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(correct.load(), 4000);
}

TEST_F(V8EngineTest, CallBatchKeepsInstancesUsableInAndAfterTheBatch) {
  auto first = instantiate();
  auto second = instantiate();
  ASSERT_TRUE(first && second);
  {
    CallBatch batch;
    CallBatch inner;  // nested: a no-op
    for (uint64_t i = 0; i < 100; ++i) {
      EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {i, 1}), i + 1);
      EXPECT_EQ(*callExport(*second, "via_host", {{ValType::kI32}, {ValType::kI32}}, {i}), i + 100);
    }
    auto trapped = callExport(*first, "unreachable", kVoid, {});
    EXPECT_EQ(trapped.status().code(), StatusCode::kTrap);
    EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {2, 3}), 5u);
  }
  EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {4, 4}), 8u);
  EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {5, 5}), 10u);
}

TEST_F(V8EngineTest, InstanceHeldByABatchWaitsForItBeforeServingAnotherThread) {
  auto vm = instantiate();
  ASSERT_TRUE(vm);
  std::optional<CallBatch> batch;
  batch.emplace();
  ASSERT_EQ(*callExport(*vm, "add", kI32x2ToI32, {1, 1}), 2u);  // now held by this thread
  expectAnotherThreadWaitsForTheBatch(*vm, batch);
}

TEST_F(V8EngineTest, InstanceDestroyedInsideTheBatchHoldingItLeavesTheOthersWorking) {
  auto first = instantiate();
  auto second = instantiate();
  auto third = instantiate();
  ASSERT_TRUE(first && second && third);
  CallBatch batch;
  EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {1, 2}), 3u);
  EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {3, 4}), 7u);
  EXPECT_EQ(*callExport(*third, "add", kI32x2ToI32, {5, 6}), 11u);
  second.reset();  // taken in the middle of the batch's holdings
  EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {7, 8}), 15u);
  EXPECT_EQ(*callExport(*third, "via_host", {{ValType::kI32}, {ValType::kI32}}, {1}), 101u);
  first.reset();
  EXPECT_EQ(*callExport(*third, "add", kI32x2ToI32, {9, 9}), 18u);
}

TEST_F(V8EngineTest, DeadlineFiresInsideABatch) {
  auto vm = instantiate({}, InstanceOptions{50ms, nullptr});
  ASSERT_TRUE(vm);
  CallBatch batch;
  EXPECT_EQ(*callExport(*vm, "add", kI32x2ToI32, {1, 1}), 2u);
  auto spun = callExport(*vm, "spin", kVoid, {});
  ASSERT_FALSE(spun.isOk());
  EXPECT_EQ(spun.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*callExport(*vm, "add", kI32x2ToI32, {2, 2}), 4u);
}

TEST_F(V8EngineTest, InstancesOfOneGroupAreSeparateSandboxes) {
  auto group = engine_->newGroup();
  auto first = instantiate({}, InstanceOptions{50ms, group});
  auto second = instantiate({}, InstanceOptions{50ms, group});
  ASSERT_TRUE(first && second);
  // Linear memories are their own.
  ASSERT_TRUE(callExport(*first, "store", {{ValType::kI32, ValType::kI32}, {}}, {64, 1111}).isOk());
  ASSERT_TRUE(
      callExport(*second, "store", {{ValType::kI32, ValType::kI32}, {}}, {64, 2222}).isOk());
  EXPECT_EQ(*callExport(*first, "load", {{ValType::kI32}, {ValType::kI32}}, {64}), 1111u);
  EXPECT_EQ(*callExport(*second, "load", {{ValType::kI32}, {ValType::kI32}}, {64}), 2222u);
  // A trap and a deadline in one leave the other answering.
  EXPECT_EQ(callExport(*first, "unreachable", kVoid, {}).status().code(), StatusCode::kTrap);
  EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {1, 2}), 3u);
  EXPECT_EQ(callExport(*second, "spin", kVoid, {}).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {3, 4}), 7u);
  EXPECT_EQ(*callExport(*second, "via_host", {{ValType::kI32}, {ValType::kI32}}, {1}), 101u);
}

// An instance destroyed in a batch that did not hold its group yet makes the batch take the
// isolate; the isolate must stay locked by the batch after the destructor, or another thread
// could run a guest in it while this thread's batch believes it holds it.
TEST_F(V8EngineTest, BatchTakingAGroupFromADestructorKeepsItLocked) {
  auto group = engine_->newGroup();
  auto first = instantiate({}, InstanceOptions{{}, group});
  auto second = instantiate({}, InstanceOptions{{}, group});
  ASSERT_TRUE(first && second);
  std::optional<CallBatch> batch;
  batch.emplace();
  first.reset();  // the batch's first hold of the group comes from this destructor
  EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {1, 1}), 2u);
  expectAnotherThreadWaitsForTheBatch(*second, batch, [&] {
    EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {2, 2}), 4u);
  });
}

TEST_F(V8EngineTest, GroupOutlivesAnyOneInstanceAndServesAnotherThreadAfterABatch) {
  auto group = engine_->newGroup();
  auto first = instantiate({}, InstanceOptions{{}, group});
  auto second = instantiate({}, InstanceOptions{{}, group});
  ASSERT_TRUE(first && second);
  {
    CallBatch batch;
    EXPECT_EQ(*callExport(*first, "add", kI32x2ToI32, {1, 1}), 2u);
    EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {2, 2}), 4u);
    first.reset();  // inside the batch: what it leaves is collected when the batch ends
    EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {3, 3}), 6u);
  }
  auto third = instantiate({}, InstanceOptions{{}, group});
  ASSERT_TRUE(third);
  std::thread([&] {
    CallBatch batch;
    EXPECT_EQ(*callExport(*second, "add", kI32x2ToI32, {4, 4}), 8u);
    EXPECT_EQ(*callExport(*third, "add", kI32x2ToI32, {5, 5}), 10u);
  }).join();
  second.reset();  // outside any batch: collected at once
  group.reset();   // the last instance now holds the isolate alone
  EXPECT_EQ(*callExport(*third, "add", kI32x2ToI32, {6, 6}), 12u);
}

}  // namespace
}  // namespace wasmgate::runtime
