// The engine layer alone (runtime::WasmEngine, no Proxy-Wasm ABI): one host-to-Wasm call of a
// trivial export, and one Wasm-to-host call of a trivial import.
#include <chrono>

#include "bench_util.h"

namespace wasmgate::bench {
namespace {

using runtime::FuncType;
using runtime::ValType;

// Iterations of the guest's loop per call into it; the entry call's own cost is spread over these.
constexpr uint32_t kHostcallsPerCall = 1000;

Status hostInc(runtime::WasmInstance&, std::span<const uint64_t> args, uint64_t& result) {
  result = static_cast<uint32_t>(args[0] + 1);
  return Status::ok();
}

const runtime::HostFunctionTable& hostTable() {
  static const runtime::HostFunctionTable table = [] {
    runtime::HostFunctionTable t;
    t.add({"env", "host_inc", FuncType{{ValType::kI32}, {ValType::kI32}}, hostInc});
    return t;
  }();
  return table;
}

// An instance of runtime_calls.wasm; deadlineMs > 0 arms the watchdog on every outermost call.
std::unique_ptr<runtime::WasmInstance> instantiate(
    benchmark::State& state, int64_t deadlineMs,
    std::shared_ptr<runtime::InstanceGroup> group = nullptr) {
  static const runtime::CompiledModulePtr module = [] {
    auto bytes = readFile(fixturePath("runtime_calls.wasm"));
    if (!bytes) return runtime::CompiledModulePtr();
    auto compiled = engine().compile(*bytes, runtime::CompileOptions{});
    return compiled.isOk() ? *compiled : runtime::CompiledModulePtr();
  }();
  if (!module) {
    state.SkipWithError("cannot compile runtime_calls.wasm");
    return nullptr;
  }
  runtime::InstanceOptions options{std::chrono::milliseconds(deadlineMs), std::move(group)};
  auto instance = engine().instantiate(module, hostTable(), options);
  if (!instance.isOk()) {
    state.SkipWithError(instance.status().toString().c_str());
    return nullptr;
  }
  return std::move(instance).value();
}

const FuncType kI32ToI32{{ValType::kI32}, {ValType::kI32}};

// One WasmInstance::call of (i32) -> i32 identity. Arg: the call deadline in ms (0: no watchdog).
// An instance with the call deadline state.range(0) and its identity export, called until V8
// has tiered it up.
struct WarmIdentity {
  std::unique_ptr<runtime::WasmInstance> instance;
  runtime::FunctionHandle fn = 0;

  bool start(benchmark::State& state) {
    instance = instantiate(state, state.range(0));
    if (!instance) return false;
    auto found = instance->function("identity", kI32ToI32);
    if (!found) {
      state.SkipWithError("no export identity");
      return false;
    }
    fn = *found;
    uint64_t arg = 0, result = 0;
    for (int i = 0; i < 20000; ++i) (void)instance->call(fn, std::span(&arg, 1), &result);
    return true;
  }
};

void BM_RuntimeCall(benchmark::State& state) {
  WarmIdentity warm;
  if (!warm.start(state)) return;
  uint64_t arg = 0, result = 0;
  // batched:1 calls as an event loop turn does, inside a CallBatch: the lock is taken once.
  std::optional<runtime::CallBatch> batch;
  if (state.range(1) != 0) batch.emplace();
  for (auto _ : state) {
    ++arg;
    Status status = warm.instance->call(warm.fn, std::span(&arg, 1), &result);
    if (!status.isOk() || result != (arg & 0xffffffffu)) return state.SkipWithError("bad call");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_RuntimeCall)
    ->ArgNames({"deadline_ms", "batched"})
    ->Args({0, 0})
    ->Args({1000, 0})
    ->Args({0, 1})
    ->Args({1000, 1});

// The same call in a batch with cold caches (timeWithColdCaches), `per_sweep` calls at a time.
void BM_RuntimeCallColdCache(benchmark::State& state) {
  WarmIdentity warm;
  if (!warm.start(state)) return;
  uint64_t arg = 0, result = 0;
  runtime::CallBatch batch;
  timeWithColdCaches(state, [&] {
    ++arg;
    Status status = warm.instance->call(warm.fn, std::span(&arg, 1), &result);
    if (!status.isOk() || result != (arg & 0xffffffffu)) state.SkipWithError("bad call");
    return status.isOk();
  });
}
BENCHMARK(BM_RuntimeCallColdCache)
    ->ArgNames({"deadline_ms", "per_sweep"})
    ->Args({1000, 1})
    ->Args({1000, 16})
    ->Iterations(100000)
    ->UseManualTime();

// Calls in a batch that go round 10 instances, one call each, as a worker with 10 plugins does:
// each call switches the thread to another isolate.
// grouped:1 puts the 10 in one InstanceGroup (one isolate), as a worker does.
void BM_RuntimeCallRoundRobin(benchmark::State& state) {
  constexpr int kInstances = 10;
  std::shared_ptr<runtime::InstanceGroup> group;
  if (state.range(0) != 0) group = engine().newGroup();
  std::vector<std::unique_ptr<runtime::WasmInstance>> instances;
  std::vector<runtime::FunctionHandle> fns;
  for (int i = 0; i < kInstances; ++i) {
    instances.push_back(instantiate(state, 1000, group));
    if (!instances.back()) return;
    auto fn = instances.back()->function("identity", kI32ToI32);
    if (!fn) return state.SkipWithError("no export identity");
    fns.push_back(*fn);
  }
  uint64_t arg = 0, result = 0;
  runtime::CallBatch batch;
  for (int i = 0; i < 20000; ++i) {
    (void)instances[i % kInstances]->call(fns[i % kInstances], std::span(&arg, 1), &result);
  }
  size_t next = 0;
  for (auto _ : state) {
    Status status = instances[next]->call(fns[next], std::span(&arg, 1), &result);
    if (!status.isOk()) return state.SkipWithError("bad call");
    next = next + 1 == kInstances ? 0 : next + 1;
  }
}
BENCHMARK(BM_RuntimeCallRoundRobin)->ArgName("grouped")->Arg(0)->Arg(1);

// One call of env.host_inc from the guest: the guest loops kHostcallsPerCall times per entry.
void BM_RuntimeHostcall(benchmark::State& state) {
  auto instance = instantiate(state, 0);
  if (!instance) return;
  auto fn = instance->function("call_host_loop", kI32ToI32);
  if (!fn) return state.SkipWithError("no export call_host_loop");
  uint64_t n = kHostcallsPerCall, result = 0;
  // sum of (i + 1) for i = 1..n
  const uint64_t expected = static_cast<uint32_t>(n * (n + 1) / 2 + n);
  for (int i = 0; i < 50; ++i) (void)instance->call(*fn, std::span(&n, 1), &result);  // tier-up
  while (state.KeepRunningBatch(kHostcallsPerCall)) {
    Status status = instance->call(*fn, std::span(&n, 1), &result);
    if (!status.isOk() || result != expected) return state.SkipWithError("bad hostcall loop");
  }
}
BENCHMARK(BM_RuntimeHostcall);

}  // namespace
}  // namespace wasmgate::bench
