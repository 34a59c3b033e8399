// Helpers shared by the host benchmarks: one V8 engine per process, fixture loading, a realistic
// request, and the process's resident set size.
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/plugin_vm.h"
#include "runtime/v8/v8_engine.h"

namespace wasmgate::bench {

inline runtime::WasmEngine& engine() {
  static std::unique_ptr<runtime::WasmEngine> instance = runtime::createV8Engine();
  return *instance;
}

// A benchmark fixture compiled from bench/fixtures/<name>.wat.
inline std::string fixturePath(const std::string& name) {
  return std::string(BENCH_FIXTURE_DIR) + "/" + name;
}

inline std::optional<std::vector<uint8_t>> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Loads a plugin module, or marks the benchmark skipped and returns nullptr.
inline std::shared_ptr<const abi::PluginModule> loadPlugin(benchmark::State& state,
                                                           const std::string& path,
                                                           const abi::VmLimits& limits = {}) {
  std::optional<std::vector<uint8_t>> bytes = readFile(path);
  if (!bytes) {
    state.SkipWithError(("cannot read " + path).c_str());
    return nullptr;
  }
  auto module = abi::PluginModule::load(engine(), *bytes, limits);
  if (!module.isOk()) {
    state.SkipWithError((path + ": " + module.status().toString()).c_str());
    return nullptr;
  }
  return *module;
}

// Creates and starts a VM, or marks the benchmark skipped and returns nullptr.
inline std::unique_ptr<abi::PluginVm> startVm(
    benchmark::State& state, const std::shared_ptr<const abi::PluginModule>& module,
    const abi::PluginSpec& spec, abi::PluginHost& host) {
  auto vm = abi::PluginVm::create(module, spec, host);
  if (!vm.isOk()) {
    state.SkipWithError(("create: " + vm.status().toString()).c_str());
    return nullptr;
  }
  if (Status started = (*vm)->start(); !started.isOk()) {
    state.SkipWithError(("start: " + started.toString()).c_str());
    return nullptr;
  }
  return std::move(vm).value();
}

// The spec the C++ SDK's add_header example runs with: one request and one response header.
inline abi::PluginSpec addHeaderSpec() {
  abi::PluginSpec spec;
  spec.name = "add_header";
  spec.rootId = "add_header";
  spec.pluginConfiguration =
      R"({"request_headers": {"x-added": "yes"}, "response_headers": {"x-served-by": "wasmgate"}})";
  return spec;
}

// A browser's request as a proxy sees it after HTTP/2 decoding: 20 headers. The plugins read
// user-agent (5th) and x-tenant (19th).
inline abi::Headers requestHeaders20() {
  return {
      {":method", "GET"},
      {":scheme", "https"},
      {":authority", "api.example.com"},
      {":path", "/v1/catalog/items?page=2&limit=50"},
      {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"},
      {"accept", "application/json, text/plain, */*"},
      {"accept-language", "en-GB,en;q=0.7"},
      {"accept-encoding", "gzip, deflate, br"},
      {"referer", "https://www.example.com/catalog"},
      {"origin", "https://www.example.com"},
      {"cookie", "session=4f1c2a9e7b3d4e8f; theme=dark"},
      {"cache-control", "no-cache"},
      {"sec-fetch-dest", "empty"},
      {"sec-fetch-mode", "cors"},
      {"sec-fetch-site", "same-site"},
      {"x-forwarded-for", "203.0.113.17"},
      {"x-forwarded-proto", "https"},
      {"x-request-id", "9b2f4c1e-55aa-4c0b-8d7e-2f6a1c3b9e01"},
      {"x-tenant", "acme-corp"},
      {"x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"},
  };
}

inline abi::Headers responseHeaders8() {
  // clang-format off
  return {
      {":status", "200"},
      {"content-type", "application/json"},
      {"content-length", "1834"},
      {"date", "Mon, 15 Jan 2024 10:00:00 GMT"},
      {"server", "upstream"},
      {"cache-control", "private, max-age=60"},
      {"vary", "accept-encoding"},
      {"x-envoy-upstream-service-time", "12"},
  };
  // clang-format on
}

// Resident set size of this process in KiB, from /proc/self/statm (second field, in pages).
inline long residentKb() {
  std::ifstream statm("/proc/self/statm");
  long sizePages = 0, residentPages = 0;
  statm >> sizePages >> residentPages;
  return residentPages * (sysconf(_SC_PAGESIZE) / 1024);
}

// Times `run` with cold CPU caches, as in a proxy, where the kernel's network work runs between
// requests: before each group of state.range(1) runs it writes 2 MiB of other memory (more than
// a core's L2), and only the runs are timed. Register the benchmark with UseManualTime and a fixed
// Iterations count: google-benchmark would otherwise size the run by the timed part alone, and
// the untimed writes would take minutes. `runAll(n)` does the group's n runs together (a batch),
// and returns false to stop; timeWithColdCaches calls `run` n times instead.
template <typename RunAll>
void timeBatchWithColdCaches(benchmark::State& state, RunAll&& runAll) {
  const auto perSweep = static_cast<int>(state.range(1));
  std::vector<uint8_t> other(2 << 20);
  uint8_t stamp = 0;
  while (state.KeepRunningBatch(perSweep)) {
    ++stamp;
    for (size_t i = 0; i < other.size(); i += 64) other[i] = stamp;
    benchmark::ClobberMemory();
    auto begin = std::chrono::steady_clock::now();
    if (!runAll(perSweep)) return;
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
  }
}

template <typename Run>
void timeWithColdCaches(benchmark::State& state, Run&& run) {
  timeBatchWithColdCaches(state, [&](int count) {
    for (int i = 0; i < count; ++i) {
      if (!run()) return false;
    }
    return true;
  });
}

}  // namespace wasmgate::bench
