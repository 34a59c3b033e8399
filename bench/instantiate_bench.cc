// Instantiating plugin VMs from one shared compiled module: time per instance and resident memory
// per instance. Each instance is its own V8 isolate.
#include <chrono>
#include <string>
#include <vector>

#include "bench_util.h"
#include "fakes/fake_hosts.h"

namespace wasmgate::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Instances kept alive at once: the time benchmarks destroy them (untimed) every this many, and
// the memory benchmark measures the growth over this many.
constexpr int kBatch = 50;

abi::PluginSpec specFor(const std::string& path) {
  return path == ADD_HEADER_WASM ? addHeaderSpec() : abi::PluginSpec{};
}

std::shared_ptr<const abi::PluginModule> loadOrSkip(benchmark::State& state,
                                                    const std::string& path) {
  if (!readFile(path)) {
    state.SkipWithError((path + " is missing (the add_header_plugin target builds it)").c_str());
    return nullptr;
  }
  return loadPlugin(state, path);
}

// Destroys `items` untimed and adds the time it took to `teardown`.
template <typename T>
void destroyUntimed(benchmark::State& state, std::vector<T>& items, Clock::duration& teardown) {
  state.PauseTiming();
  auto start = Clock::now();
  items.clear();
  teardown += Clock::now() - start;
  state.ResumeTiming();
}

void reportTeardown(benchmark::State& state, Clock::duration teardown) {
  double us = std::chrono::duration<double, std::micro>(teardown).count();
  state.counters["teardown_us"] = us / static_cast<double>(state.iterations());
}

// The engine layer only: runtime::WasmEngine::instantiate (a new isolate, linking the ABI's
// whole hostcall table, WebAssembly.Instance) of header_plugin.wasm.
void BM_RuntimeInstantiate(benchmark::State& state) {
  auto module = loadPlugin(state, fixturePath("header_plugin.wasm"));
  if (!module) return;
  runtime::InstanceOptions options;
  options.callDeadline = module->limits().callDeadline;
  std::vector<std::unique_ptr<runtime::WasmInstance>> live;
  Clock::duration teardown{};
  for (auto _ : state) {
    auto instance = engine().instantiate(module->compiled(), abi::hostcallTable(), options);
    if (!instance.isOk()) return state.SkipWithError(instance.status().toString().c_str());
    live.push_back(std::move(instance).value());
    if (live.size() == kBatch) destroyUntimed(state, live, teardown);
  }
  reportTeardown(state, teardown);
}
BENCHMARK(BM_RuntimeInstantiate)->Unit(benchmark::kMicrosecond);

// PluginVm::create + start: instantiate, resolve the callbacks, run the entry points, create the
// root context, proxy_on_vm_start and proxy_on_configure.
void BM_PluginVmStartup(benchmark::State& state, std::string path) {
  auto module = loadOrSkip(state, path);
  if (!module) return;
  const abi::PluginSpec spec = specFor(path);
  testing::FakePluginHost host;
  std::vector<std::unique_ptr<abi::PluginVm>> live;
  Clock::duration teardown{};
  for (auto _ : state) {
    auto vm = startVm(state, module, spec, host);
    if (!vm) return;
    live.push_back(std::move(vm));
    if (live.size() == kBatch) destroyUntimed(state, live, teardown);
  }
  reportTeardown(state, teardown);
}
BENCHMARK_CAPTURE(BM_PluginVmStartup, header_plugin, fixturePath("header_plugin.wasm"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PluginVmStartup, sdk_add_header, std::string(ADD_HEADER_WASM))
    ->Unit(benchmark::kMicrosecond);

// Resident memory per started VM: /proc/self/statm over kBatch VMs kept alive, after one warm-up
// VM (first-use costs such as V8's builtins are not per instance). One iteration; the time shown
// is for the whole batch.
void BM_PluginVmMemory(benchmark::State& state, std::string path) {
  auto module = loadOrSkip(state, path);
  if (!module) return;
  const abi::PluginSpec spec = specFor(path);
  testing::FakePluginHost host;
  auto warmUp = startVm(state, module, spec, host);
  if (!warmUp) return;
  for (auto _ : state) {
    std::vector<std::unique_ptr<abi::PluginVm>> live;
    const long before = residentKb();
    for (int i = 0; i < kBatch; ++i) {
      auto vm = startVm(state, module, spec, host);
      if (!vm) return;
      live.push_back(std::move(vm));
    }
    const long after = residentKb();
    state.counters["rss_kb_per_instance"] = static_cast<double>(after - before) / kBatch;
    state.PauseTiming();
    live.clear();
    state.ResumeTiming();
  }
}
BENCHMARK_CAPTURE(BM_PluginVmMemory, header_plugin, fixturePath("header_plugin.wasm"))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PluginVmMemory, sdk_add_header, std::string(ADD_HEADER_WASM))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace wasmgate::bench
