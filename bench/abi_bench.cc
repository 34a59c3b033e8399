// The Proxy-Wasm host (src/abi) with fake hosts: a hostcall through the ABI's adapters, the fixed
// cost of a stream callback, a realistic on_request_headers, and an SDK-built plugin's whole
// request lifecycle.
#include <chrono>
#include <cstdio>
#include <string>

#include "abi/pairs.h"
#include "bench_util.h"
#include "fakes/fake_hosts.h"

namespace wasmgate::bench {
namespace {

using runtime::FuncType;
using runtime::ValType;
using testing::FakePluginHost;
using testing::FakeStream;

constexpr uint32_t kHostcallsPerCall = 1000;
constexpr size_t kRequestHeaderCount = 20;

// The call deadline a benchmark runs with: its argument in ms, 0 for none (no watchdog). The
// default VmLimits has 1000 ms.
abi::VmLimits limitsFor(benchmark::State& state) {
  abi::VmLimits limits;
  limits.callDeadline = std::chrono::milliseconds(state.range(0));
  return limits;
}

// A started VM of a plugin with one stream context on `stream`.
struct StreamVm {
  FakePluginHost host;
  FakeStream stream;
  std::unique_ptr<abi::PluginVm> vm;
  uint32_t context = 0;

  bool start(benchmark::State& state, const std::string& path, const abi::VmLimits& limits,
             const abi::PluginSpec& spec = {}) {
    auto module = loadPlugin(state, path, limits);
    if (!module) return false;
    vm = startVm(state, module, spec, host);
    if (!vm) return false;
    stream.streamData.requestHeaders = requestHeaders20();
    stream.streamData.responseHeaders = responseHeaders8();
    stream.streamData.responseHeadersReceived = true;
    auto id = vm->createStream(stream);
    if (!id.isOk()) {
      state.SkipWithError(("createStream: " + id.status().toString()).c_str());
      return false;
    }
    context = *id;
    return true;
  }
};

// One proxy_get_log_level from the guest, through the ABI's adapter, PluginVm and the host.
void BM_AbiHostcallGetLogLevel(benchmark::State& state) {
  StreamVm s;
  if (!s.start(state, fixturePath("abi_minimal.wasm"), abi::VmLimits{})) return;
  auto fn = s.vm->wasm().function("get_log_level_loop", FuncType{{ValType::kI32}, {ValType::kI32}});
  if (!fn) return state.SkipWithError("no export get_log_level_loop");
  uint64_t n = kHostcallsPerCall, result = 0;
  const uint64_t expected = n * static_cast<uint32_t>(s.host.level);
  for (int i = 0; i < 50; ++i) (void)s.vm->wasm().call(*fn, std::span(&n, 1), &result);  // tier-up
  while (state.KeepRunningBatch(kHostcallsPerCall)) {
    Status status = s.vm->wasm().call(*fn, std::span(&n, 1), &result);
    if (!status.isOk() || result != expected) return state.SkipWithError("bad get_log_level loop");
  }
}
BENCHMARK(BM_AbiHostcallGetLogLevel);

// One proxy_get_header_map_value of x-tenant (19th of 20 request headers) in a stream context,
// including the host's call back into the guest's malloc to return the value (section 1.3).
void BM_AbiHostcallGetHeader(benchmark::State& state) {
  StreamVm s;
  if (!s.start(state, fixturePath("abi_minimal.wasm"), abi::VmLimits{})) return;
  const FuncType type{{ValType::kI32}, {ValType::kI32}};
  const std::string* tenant = abi::findHeader(s.stream.streamData.requestHeaders, "x-tenant");
  const uint64_t args[] = {kHostcallsPerCall};
  const uint64_t expected = static_cast<uint32_t>(
      kHostcallsPerCall * (tenant->size() + static_cast<uint8_t>((*tenant)[0])));
  auto run = [&] { return s.vm->callExport("get_header_loop", type, args, s.context, {}); };
  for (int i = 0; i < 50; ++i) (void)run();  // tier-up
  while (state.KeepRunningBatch(kHostcallsPerCall)) {
    auto r = run();
    if (!r.isOk() || *r != expected) return state.SkipWithError("bad get_header loop");
  }
}
BENCHMARK(BM_AbiHostcallGetHeader);

// PluginVm::onRequestHeaders of a plugin whose callback returns at once: the ABI layer's fixed
// cost per callback (context lookup, frame, watchdog, status conversion) on top of the engine.
void BM_OnRequestHeadersEmpty(benchmark::State& state) {
  StreamVm s;
  if (!s.start(state, fixturePath("abi_minimal.wasm"), limitsFor(state))) return;
  for (int i = 0; i < 20000; ++i)
    (void)s.vm->onRequestHeaders(s.context, kRequestHeaderCount, true);
  for (auto _ : state) {
    auto r = s.vm->onRequestHeaders(s.context, kRequestHeaderCount, true);
    if (!r.isOk()) return state.SkipWithError(r.status().toString().c_str());
    benchmark::DoNotOptimize(*r);
  }
}
BENCHMARK(BM_OnRequestHeadersEmpty)->ArgName("deadline_ms")->Arg(1000)->Arg(0);

// What header_plugin.wat adds: "<x-tenant>-<FNV-1a of user-agent, 8 hex digits>".
std::string expectedRoute(const abi::Headers& headers) {
  const std::string* tenant = abi::findHeader(headers, "x-tenant");
  const std::string* agent = abi::findHeader(headers, "user-agent");
  uint32_t h = 0x811c9dc5u;
  for (unsigned char c : *agent) h = (h ^ c) * 0x01000193u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return *tenant + "-" + hex;
}

// header_plugin.wat's on_request_headers over a 20-header request: two
// proxy_get_header_map_value (each calling back into the guest's malloc), hashing one value in
// the guest, one proxy_add_header_map_value. The added header is removed after each iteration.
void BM_OnRequestHeaders(benchmark::State& state) {
  StreamVm s;
  if (!s.start(state, fixturePath("header_plugin.wasm"), limitsFor(state))) return;
  abi::Headers& headers = s.stream.streamData.requestHeaders;
  const std::string expected = expectedRoute(headers);
  auto r = s.vm->onRequestHeaders(s.context, kRequestHeaderCount, false);
  if (!r.isOk()) return state.SkipWithError(r.status().toString().c_str());
  if (headers.size() != kRequestHeaderCount + 1 || headers.back().first != "x-tenant-route" ||
      headers.back().second != expected) {
    return state.SkipWithError(("plugin added the wrong header, expected " + expected).c_str());
  }
  for (int i = 0; i < 20000; ++i) {
    (void)s.vm->onRequestHeaders(s.context, kRequestHeaderCount, false);
    headers.resize(kRequestHeaderCount);
  }
  std::optional<runtime::CallBatch> batch;
  if (state.range(1) != 0) batch.emplace();
  for (auto _ : state) {
    auto status = s.vm->onRequestHeaders(s.context, kRequestHeaderCount, false);
    if (!status.isOk() || headers.size() != kRequestHeaderCount + 1) {
      return state.SkipWithError("on_request_headers failed or added nothing");
    }
    headers.resize(kRequestHeaderCount);
  }
}
BENCHMARK(BM_OnRequestHeaders)
    ->ArgNames({"deadline_ms", "batched"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({0, 1});

// The C++ SDK's add_header example through a whole stream: createStream, onRequestHeaders,
// onResponseHeaders, endStream (on_done, on_log, on_delete). It adds one request and one
// response header; both are removed after each iteration.
// add_header's request lifecycle through the SDK: the stream's creation, both header callbacks
// (each adding a header), its end.
struct SdkAddHeaderLifecycle {
  StreamVm s;
  size_t requestCount = 0, responseCount = 0;

  bool start(benchmark::State& state) {
    if (!readFile(ADD_HEADER_WASM)) {
      state.SkipWithError(ADD_HEADER_WASM " is missing: build the add_header_plugin target");
      return false;
    }
    if (!s.start(state, ADD_HEADER_WASM, limitsFor(state), addHeaderSpec())) return false;
    if (Status ended = s.vm->endStream(s.context); !ended.isOk()) {
      state.SkipWithError(ended.toString().c_str());
      return false;
    }
    requestCount = s.stream.streamData.requestHeaders.size();
    responseCount = s.stream.streamData.responseHeaders.size();
    for (int i = 0; i < 5000; ++i) {
      if (Status st = run(); !st.isOk()) {
        state.SkipWithError(st.toString().c_str());
        return false;
      }
    }
    return true;
  }

  Status run() {
    abi::StreamData& data = s.stream.streamData;
    auto id = s.vm->createStream(s.stream);
    if (!id.isOk()) return id.status();
    auto req = s.vm->onRequestHeaders(*id, static_cast<uint32_t>(requestCount), true);
    if (!req.isOk()) return req.status();
    auto resp = s.vm->onResponseHeaders(*id, static_cast<uint32_t>(responseCount), false);
    if (!resp.isOk()) return resp.status();
    Status ended = s.vm->endStream(*id);
    Status added = checkAndReset(data);
    return ended.isOk() ? added : ended;
  }

  // The stream got one request and one response header; they are removed for the next round.
  Status checkAndReset(abi::StreamData& data) const {
    bool added = data.requestHeaders.size() == requestCount + 1 &&
                 data.responseHeaders.size() == responseCount + 1;
    data.requestHeaders.resize(requestCount);
    data.responseHeaders.resize(responseCount);
    return added ? Status::ok()
                 : errorStatus(StatusCode::kInternal, "add_header did not add both headers");
  }
};

void BM_SdkAddHeaderLifecycle(benchmark::State& state) {
  SdkAddHeaderLifecycle lifecycle;
  if (!lifecycle.start(state)) return;
  // batched:1 runs as a worker's loop turn does, inside a CallBatch: the VM is locked once.
  std::optional<runtime::CallBatch> batch;
  if (state.range(1) != 0) batch.emplace();
  for (auto _ : state) {
    if (Status st = lifecycle.run(); !st.isOk()) return state.SkipWithError(st.toString().c_str());
  }
}
BENCHMARK(BM_SdkAddHeaderLifecycle)
    ->ArgNames({"deadline_ms", "batched"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({0, 1});

// The argument sets of the add_header cold-cache benchmarks: 1, 4 and 16 streams per sweep.
void coldCacheSweeps(benchmark::internal::Benchmark* b) {
  b->ArgNames({"deadline_ms", "per_sweep"})
      ->Args({1000, 1})
      ->Args({1000, 4})
      ->Args({1000, 16})
      ->Iterations(100000)
      ->UseManualTime();
}

// The same with cold caches (timeWithColdCaches), `per_sweep` lifecycles at a time.
void BM_SdkAddHeaderLifecycleColdCache(benchmark::State& state) {
  SdkAddHeaderLifecycle lifecycle;
  if (!lifecycle.start(state)) return;
  runtime::CallBatch batch;
  timeWithColdCaches(state, [&] {
    Status st = lifecycle.run();
    if (!st.isOk()) state.SkipWithError(st.toString().c_str());
    return st.isOk();
  });
}
BENCHMARK(BM_SdkAddHeaderLifecycleColdCache)->Apply(coldCacheSweeps);

// add_header's lifecycle for `per_sweep` streams at once, as a proxy worker runs the requests it
// read in one loop pass: their creations, one batch of request-header callbacks, one of
// response-header callbacks (PluginVm::runHeaderBatch), their ends. Cold caches before each
// group; the time is per stream.
void BM_SdkAddHeaderBatchedColdCache(benchmark::State& state) {
  SdkAddHeaderLifecycle lifecycle;
  if (!lifecycle.start(state)) return;
  if (!lifecycle.s.vm->batchesHeaderCallbacks()) return state.SkipWithError("no header batch");
  const auto perSweep = static_cast<size_t>(state.range(1));
  std::vector<FakeStream> streams(perSweep, lifecycle.s.stream);
  std::vector<abi::PluginVm::HeaderCall> requests(perSweep), responses(perSweep);
  std::vector<abi::HeadersStatus> results(perSweep);
  const auto requestCount = static_cast<uint32_t>(lifecycle.requestCount);
  const auto responseCount = static_cast<uint32_t>(lifecycle.responseCount);
  abi::PluginVm& vm = *lifecycle.s.vm;
  runtime::CallBatch batch;
  timeBatchWithColdCaches(state, [&](int) {
    for (size_t i = 0; i < perSweep; ++i) {
      auto id = vm.createStream(streams[i]);
      if (!id.isOk()) return state.SkipWithError(id.status().toString().c_str()), false;
      requests[i] = {*id, false, requestCount, true};
      responses[i] = {*id, true, responseCount, false};
    }
    Status status = vm.runHeaderBatch(requests, results);
    if (status.isOk()) status = vm.runHeaderBatch(responses, results);
    for (size_t i = 0; i < perSweep && status.isOk(); ++i) {
      status = vm.endStream(requests[i].context);
      if (status.isOk()) status = lifecycle.checkAndReset(streams[i].streamData);
    }
    if (!status.isOk()) state.SkipWithError(status.toString().c_str());
    return status.isOk();
  });
}
BENCHMARK(BM_SdkAddHeaderBatchedColdCache)->Apply(coldCacheSweeps);

}  // namespace
}  // namespace wasmgate::bench
