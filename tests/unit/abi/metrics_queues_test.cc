// Sections 3.9 to 3.11: metrics, shared data and shared queues. Shared data and queues are
// process-wide, so every test uses its own vm_id and queue names.
#include "abi/limits.h"
#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using abi::WasmResult;
using runtime::ValType;

constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

uint32_t len(std::string_view s) {
  return static_cast<uint32_t>(s.size());
}

// proxy_increment_metric and proxy_record_metric take (i32 id, i64 value).
WasmResult metricCall(ProbeVm& p, const std::string& hostcall, uint32_t id, int64_t value) {
  runtime::FuncType type{{ValType::kI32, ValType::kI64}, {ValType::kI32}};
  auto r =
      p.vm->callExport("call_" + hostcall, type,
                       std::vector<uint64_t>{id, static_cast<uint64_t>(value)}, p.streamId, {});
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? static_cast<WasmResult>(*r) : static_cast<WasmResult>(0xdeadbeef);
}

uint32_t define(ProbeVm& p, uint32_t type, std::string_view name) {
  p.put(100, name);
  EXPECT_EQ(p.result("proxy_define_metric", {type, 100, len(name), 200}), WasmResult::kOk);
  return p.u32At(200);
}

int64_t valueOf(ProbeVm& p, uint32_t id) {
  EXPECT_EQ(p.result("proxy_get_metric", {id, 208}), WasmResult::kOk);
  return static_cast<int64_t>(p.u64At(208));
}

TEST(MetricsTest, CounterIncrementRecordAndGet) {
  ProbeVm p;
  uint32_t id = define(p, 0, "requests");
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, 5), WasmResult::kOk);
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, 1), WasmResult::kOk);
  EXPECT_EQ(valueOf(p, id), 6);
  EXPECT_EQ(metricCall(p, "proxy_record_metric", id, 10), WasmResult::kOk);  // counter: adds
  EXPECT_EQ(valueOf(p, id), 16);
  auto snapshot = p.host.metricStore.snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].name, "requests");
  EXPECT_EQ(snapshot[0].value, 16);
}

TEST(MetricsTest, CounterRefusesDeltasBelowOne) {
  ProbeVm p;
  uint32_t id = define(p, 0, "c");
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, -1), WasmResult::kBadArgument);
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, 0), WasmResult::kBadArgument);
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, INT64_MIN), WasmResult::kBadArgument);
  EXPECT_EQ(valueOf(p, id), 0);
}

TEST(MetricsTest, GaugeAddsSubtractsAndSets) {
  ProbeVm p;
  uint32_t id = define(p, 1, "in_flight");
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, 3), WasmResult::kOk);
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, -5), WasmResult::kOk);
  EXPECT_EQ(valueOf(p, id), -2);
  EXPECT_EQ(p.u64At(208), static_cast<uint64_t>(-2));  // written as u64 two's complement
  EXPECT_EQ(metricCall(p, "proxy_record_metric", id, 42), WasmResult::kOk);  // gauge: sets
  EXPECT_EQ(valueOf(p, id), 42);
}

TEST(MetricsTest, HistogramRecordsButCannotBeIncrementedOrRead) {
  ProbeVm p;
  uint32_t id = define(p, 2, "latency_ms");
  EXPECT_EQ(metricCall(p, "proxy_record_metric", id, 7), WasmResult::kOk);
  EXPECT_EQ(metricCall(p, "proxy_record_metric", id, 700), WasmResult::kOk);
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, 1), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_metric", {id, 208}), WasmResult::kBadArgument);
  auto snapshot = p.host.metricStore.snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].count, 2u);
  EXPECT_EQ(snapshot[0].sum, 707);
}

TEST(MetricsTest, DefineReusesByNameAndType) {
  ProbeVm p;
  uint32_t counter = define(p, 0, "m");
  EXPECT_EQ(define(p, 0, "m"), counter);
  uint32_t gauge = define(p, 1, "m");
  EXPECT_NE(gauge, counter);
  EXPECT_NE(define(p, 0, "other"), counter);
  EXPECT_EQ(metricCall(p, "proxy_increment_metric", counter, 2), WasmResult::kOk);
  EXPECT_EQ(valueOf(p, gauge), 0);
  uint32_t empty = define(p, 0, "");  // an empty name is still a name
  EXPECT_EQ(valueOf(p, empty), 0);
}

TEST(MetricsTest, DefineErrorStatuses) {
  ProbeVm p;
  p.put(100, "m");
  p.put(200, std::string(4, '\x12'));
  EXPECT_EQ(p.result("proxy_define_metric", {3, 100, 1, 200}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_define_metric", {0xffffffffu, 100, 1, 200}), WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_define_metric", {0, kWrapPtr, 0x200, 200}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_define_metric", {0, 100, 1, p.memorySize() - 2}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.u32At(200), 0x12121212u);
  EXPECT_TRUE(p.host.metricStore.snapshot().empty());  // nothing defined by a refused call
}

TEST(MetricsTest, UnknownIdsAreNotFound) {
  ProbeVm p;
  uint32_t counter = define(p, 0, "c");
  uint32_t wrongType = counter | 1;  // the type lives in the id's low bits
  for (uint32_t id : {wrongType, counter + 4, 0xffffffffu}) {
    EXPECT_EQ(metricCall(p, "proxy_increment_metric", id, 1), WasmResult::kNotFound) << id;
    EXPECT_EQ(metricCall(p, "proxy_record_metric", id, 1), WasmResult::kNotFound) << id;
    EXPECT_EQ(p.result("proxy_get_metric", {id, 208}), WasmResult::kNotFound) << id;
  }
}

TEST(MetricsTest, GetMetricNeedsAnEightByteSlot) {
  ProbeVm p;
  uint32_t id = define(p, 0, "c");
  EXPECT_EQ(p.result("proxy_get_metric", {id, p.memorySize() - 4}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_metric", {id, 0xfffffffcu}), WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_metric", {id, p.memorySize() - 8}), WasmResult::kOk);
}

// ---- Shared data, beyond the CAS cases in hostcalls_test.cc. ----

TEST(SharedDataTest, CasZeroOverwritesAndEveryWriteChangesTheCas) {
  ProbeVm p(specWithVmId("mq_test_cas_zero"));
  p.put(100, "k");
  p.put(120, "same");
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 1, 120, 4, 0}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kOk);
  uint32_t first = p.u32At(208);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 1, 120, 4, 0}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kOk);
  EXPECT_NE(p.u32At(208), first);
  EXPECT_EQ(p.returned(200, 204), "same");
}

TEST(SharedDataTest, PartitionedByVmId) {
  ProbeVm a(specWithVmId("mq_test_part_a"));
  ProbeVm b(specWithVmId("mq_test_part_b"));
  ProbeVm a2(specWithVmId("mq_test_part_a"));
  a.put(100, "k");
  a.put(120, "from a");
  EXPECT_EQ(a.result("proxy_set_shared_data", {100, 1, 120, 6, 0}), WasmResult::kOk);
  b.put(100, "k");
  EXPECT_EQ(b.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kNotFound);
  a2.put(100, "k");
  EXPECT_EQ(a2.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kOk);
  EXPECT_EQ(a2.returned(200, 204), "from a");
}

TEST(SharedDataTest, KeptWhileAVmOfTheVmIdLivesDroppedWithTheLast) {
  auto first = std::make_unique<ProbeVm>(specWithVmId("mq_test_lifetime"));
  first->put(100, "k");
  first->put(120, "v1");
  EXPECT_EQ(first->result("proxy_set_shared_data", {100, 1, 120, 2, 0}), WasmResult::kOk);
  // A reload: the new VM starts before the old one goes, and finds what the old one stored.
  auto second = std::make_unique<ProbeVm>(specWithVmId("mq_test_lifetime"));
  first.reset();
  second->put(100, "k");
  EXPECT_EQ(second->result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kOk);
  EXPECT_EQ(second->returned(200, 204), "v1");
  // The plugin removed: its last VM goes, and its data with it.
  second.reset();
  ProbeVm third(specWithVmId("mq_test_lifetime"));
  third.put(100, "k");
  EXPECT_EQ(third.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kNotFound);
}

TEST(SharedDataTest, EmptyValueAndEmptyKey) {
  ProbeVm p(specWithVmId("mq_test_empty"));
  EXPECT_EQ(p.result("proxy_set_shared_data", {0, 0, 0, 0, 0}), WasmResult::kOk);
  p.put(200, std::string(8, '\x31'));
  EXPECT_EQ(p.result("proxy_get_shared_data", {0, 0, 200, 204, 208}), WasmResult::kOk);
  EXPECT_EQ(p.u32At(200), 0u);
  EXPECT_EQ(p.u32At(204), 0u);
  EXPECT_NE(p.u32At(208), 0u);
}

TEST(SharedDataTest, ErrorStatuses) {
  ProbeVm p(specWithVmId("mq_test_errors"));
  p.put(100, "k");
  p.put(120, "v");
  EXPECT_EQ(p.result("proxy_set_shared_data", {kWrapPtr, 0x200, 120, 1, 0}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 1, p.memorySize(), 1, 0}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 1, 120, 1, 0}), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_get_shared_data", {kWrapPtr, 0x200, 200, 204, 208}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 0xffffffffu, 204, 208}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 200, p.memorySize() - 1, 208}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 200, 204, p.memorySize() - 3}),
            WasmResult::kInvalidMemoryAccess);
}

TEST(SharedDataTest, ValuesOverTheLimitAreRefused) {
  ProbeVm p(specWithVmId("mq_test_big"));
  // Grow guest memory past 1 MiB through the probe's own allocator.
  runtime::FuncType mallocType{{ValType::kI32}, {ValType::kI32}};
  auto block =
      p.vm->callExport("malloc", mallocType,
                       std::vector<uint64_t>{abi::kMaxSharedDataValueBytes + 16}, p.streamId, {});
  ASSERT_TRUE(block.isOk());
  uint32_t ptr = static_cast<uint32_t>(*block);
  ASSERT_NE(ptr, 0u);
  p.put(100, "k");
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 1, ptr, abi::kMaxSharedDataValueBytes + 1, 0}),
            WasmResult::kBadArgument);
  EXPECT_EQ(p.result("proxy_get_shared_data", {100, 1, 200, 204, 208}), WasmResult::kNotFound);
  EXPECT_EQ(p.result("proxy_set_shared_data", {100, 1, ptr, abi::kMaxSharedDataValueBytes, 0}),
            WasmResult::kOk);
}

// ---- Shared queues. ----

class SharedQueueTest : public ::testing::Test {
 protected:
  uint32_t registerQueue(ProbeVm& p, std::string_view name) {
    p.put(100, name);
    p.put(300, std::string(4, '\0'));
    EXPECT_EQ(p.result("proxy_register_shared_queue", {100, len(name), 300}), WasmResult::kOk);
    return p.u32At(300);
  }
  WasmResult enqueue(ProbeVm& p, uint32_t token, std::string_view value) {
    p.put(400, value);
    return p.result("proxy_enqueue_shared_queue", {token, 400, len(value)});
  }
  WasmResult dequeue(ProbeVm& p, uint32_t token) {
    p.put(500, std::string(8, '\x7e'));
    return p.result("proxy_dequeue_shared_queue", {token, 500, 504});
  }
};

TEST_F(SharedQueueTest, RegisterResolveEnqueueDequeueInOrder) {
  ProbeVm p(specWithVmId("mq_queue_basic"));
  uint32_t token = registerQueue(p, "jobs");
  EXPECT_NE(token, 0u);
  p.put(100, "jobs");
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {0, 0, 100, 4, 310}),
            WasmResult::kOk);  // own vm_id
  EXPECT_EQ(p.u32At(310), token);
  EXPECT_EQ(enqueue(p, token, "one"), WasmResult::kOk);
  EXPECT_EQ(enqueue(p, token, ""), WasmResult::kOk);
  EXPECT_EQ(enqueue(p, token, "three"), WasmResult::kOk);
  EXPECT_EQ(dequeue(p, token), WasmResult::kOk);
  EXPECT_EQ(p.returned(500, 504), "one");
  EXPECT_EQ(dequeue(p, token), WasmResult::kOk);
  EXPECT_EQ(p.u32At(500), 0u);  // the empty item: 0/0
  EXPECT_EQ(p.u32At(504), 0u);
  EXPECT_EQ(dequeue(p, token), WasmResult::kOk);
  EXPECT_EQ(p.returned(500, 504), "three");
  EXPECT_EQ(dequeue(p, token), WasmResult::kEmpty);
}

TEST_F(SharedQueueTest, OneNotificationPerEnqueueToTheRegisteringHost) {
  ProbeVm owner(specWithVmId("mq_queue_notify"));
  ProbeVm producer(specWithVmId("mq_queue_producer"));
  uint32_t token = registerQueue(owner, "events");
  producer.put(100, "mq_queue_notify");
  producer.put(120, "events");
  EXPECT_EQ(producer.result("proxy_resolve_shared_queue", {100, 15, 120, 6, 310}), WasmResult::kOk);
  EXPECT_EQ(producer.u32At(310), token);
  EXPECT_EQ(enqueue(producer, token, "a"), WasmResult::kOk);
  EXPECT_EQ(enqueue(producer, token, "b"), WasmResult::kOk);
  EXPECT_EQ(owner.host.queueReady, (std::vector<uint32_t>{token, token}));
  EXPECT_TRUE(producer.host.queueReady.empty());
  EXPECT_EQ(dequeue(owner, token), WasmResult::kOk);
  EXPECT_EQ(owner.returned(500, 504), "a");
  EXPECT_EQ(owner.host.queueReady.size(), 2u);  // dequeues notify nobody
}

TEST_F(SharedQueueTest, ReRegisteringKeepsItemsAndMovesNotifications) {
  ProbeVm first(specWithVmId("mq_queue_rereg"));
  ProbeVm second(specWithVmId("mq_queue_rereg"));
  uint32_t token = registerQueue(first, "q");
  EXPECT_EQ(enqueue(first, token, "kept"), WasmResult::kOk);
  EXPECT_EQ(registerQueue(second, "q"), token);
  EXPECT_EQ(enqueue(first, token, "next"), WasmResult::kOk);
  EXPECT_EQ(first.host.queueReady.size(), 1u);
  EXPECT_EQ(second.host.queueReady, std::vector<uint32_t>{token});
  EXPECT_EQ(dequeue(second, token), WasmResult::kOk);
  EXPECT_EQ(second.returned(500, 504), "kept");
}

TEST_F(SharedQueueTest, EnqueueAfterTheRegisteringVmIsGoneNotifiesNobody) {
  uint32_t token = 0;
  ProbeVm producer(specWithVmId("mq_queue_gone"));  // keeps the vm_id, and its queues, alive
  {
    ProbeVm owner(specWithVmId("mq_queue_gone"));
    token = registerQueue(owner, "orphan");
  }
  EXPECT_EQ(enqueue(producer, token, "x"), WasmResult::kOk);  // and no use of the dead host
  EXPECT_TRUE(producer.host.queueReady.empty());
  EXPECT_EQ(dequeue(producer, token), WasmResult::kOk);
  EXPECT_EQ(producer.returned(500, 504), "x");
}

TEST_F(SharedQueueTest, QueuesGoWithTheLastVmOfTheirVmId) {
  uint32_t token = 0;
  {
    ProbeVm owner(specWithVmId("mq_queue_last"));
    token = registerQueue(owner, "q");
    EXPECT_EQ(enqueue(owner, token, "lost"), WasmResult::kOk);
  }
  ProbeVm later(specWithVmId("mq_queue_last"));
  EXPECT_EQ(enqueue(later, token, "x"), WasmResult::kNotFound);
  later.put(100, "q");
  EXPECT_EQ(later.result("proxy_resolve_shared_queue", {0, 0, 100, 1, 310}), WasmResult::kNotFound);
}

TEST_F(SharedQueueTest, UnknownNamesAndTokens) {
  ProbeVm p(specWithVmId("mq_queue_unknown"));
  p.put(100, "never");
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {0, 0, 100, 5, 310}), WasmResult::kNotFound);
  uint32_t token = registerQueue(p, "known");
  p.put(100, "other_vm");
  p.put(120, "known");
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {100, 8, 120, 5, 310}), WasmResult::kNotFound);
  EXPECT_EQ(enqueue(p, 0xfffffff0u, "x"), WasmResult::kNotFound);
  EXPECT_EQ(dequeue(p, 0xfffffff0u), WasmResult::kNotFound);
  EXPECT_EQ(enqueue(p, 0, "x"), WasmResult::kNotFound);
  EXPECT_EQ(dequeue(p, token), WasmResult::kEmpty);
}

TEST_F(SharedQueueTest, MemoryErrorStatuses) {
  ProbeVm p(specWithVmId("mq_queue_memory"));
  p.put(100, "mem");
  EXPECT_EQ(p.result("proxy_register_shared_queue", {kWrapPtr, 0x200, 300}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_register_shared_queue", {100, 3, p.memorySize() - 2}),
            WasmResult::kInvalidMemoryAccess);
  // A refused register creates nothing.
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {0, 0, 100, 3, 310}), WasmResult::kNotFound);
  uint32_t token = registerQueue(p, "mem");
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {kWrapPtr, 0x200, 100, 3, 310}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {0, 0, 0xffffffffu, 3, 310}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_resolve_shared_queue", {0, 0, 100, 3, 0xffffffffu}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_enqueue_shared_queue", {token, kWrapPtr, 0x200}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(dequeue(p, token), WasmResult::kEmpty);  // the refused enqueue added nothing
  EXPECT_EQ(enqueue(p, token, "v"), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_dequeue_shared_queue", {token, p.memorySize() - 3, 504}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(p.result("proxy_dequeue_shared_queue", {token, 500, 0xfffffffdu}),
            WasmResult::kInvalidMemoryAccess);
  EXPECT_EQ(dequeue(p, token), WasmResult::kOk);  // the item was not lost to a bad slot
  EXPECT_EQ(p.returned(500, 504), "v");
}

TEST_F(SharedQueueTest, AFullQueueRefusesMore) {
  ProbeVm p(specWithVmId("mq_queue_full"));
  uint32_t token = registerQueue(p, "bounded");
  for (uint32_t i = 0; i < abi::kMaxSharedQueueItems; ++i) {
    ASSERT_EQ(p.result("proxy_enqueue_shared_queue", {token, 0, 0}), WasmResult::kOk) << i;
  }
  EXPECT_EQ(p.result("proxy_enqueue_shared_queue", {token, 0, 0}), WasmResult::kInternalFailure);
  EXPECT_EQ(p.host.queueReady.size(), abi::kMaxSharedQueueItems);
  EXPECT_EQ(dequeue(p, token), WasmResult::kOk);
  EXPECT_EQ(p.result("proxy_enqueue_shared_queue", {token, 0, 0}), WasmResult::kOk);
}

}  // namespace
}  // namespace wasmgate::testing
