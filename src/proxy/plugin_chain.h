// Plugins as the data plane runs them: LoadedPlugin is one configured plugin, compiled once and
// shared by all workers; WorkerPlugin is its VM on one worker, and the PluginHost that VM sees.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "abi/plugin_vm.h"
#include "common/sharded_counter.h"
#include "proxy/event_loop.h"
#include "proxy/grpc_client.h"
#include "proxy/server_config.h"
#include "proxy/upstream.h"

namespace wasmgate::proxy {

// Counters of one plugin, summed over workers; declared once, incremented on the request path
// (sharded: each worker adds on a cache line of its own).
struct PluginStats {
  ShardedCounter streams;                 // HTTP streams or TCP connections it saw
  ShardedCounter callbacks;               // callbacks run
  ShardedCounter callbackNanos;           // time spent in them (HTTP: sampled, see below)
  ShardedCounter vmFailures;              // traps, deadline overruns, memory-cap hits
  ShardedCounter failClosed;              // requests answered 503 because of the plugin
  ShardedCounter failOpen;                // requests that skipped the failed plugin
  ShardedCounter logOnlyActions;          // what a log-only plugin would have done
  ShardedCounter vmRestarts;              // VMs rebuilt after a failure
  ShardedCounter vmStarts;                // VMs started: per worker at load, rebuilds, reloads
  ShardedCounter localResponses;          // local responses the plugin sent
  ShardedCounter headerBatches;           // batches of header callbacks run (HeaderBatcher)
  ShardedCounter batchedHeaderCallbacks;  // the header callbacks in them

  // Timing every HTTP callback would cost two clock reads (~40 ns) on each, a sixth of what a
  // small callback costs; one callback in kTimedEvery is timed and counts kTimedEvery times.
  static constexpr uint64_t kTimedEvery = 8;

  // Runs `work` (callbacks, or a batch of them) and counts it in `runs`; one run in kTimedEvery
  // adds its time, kTimedEvery times, to callbackNanos.
  template <typename Work>
  auto timeSampled(ShardedCounter& runs, Work&& work) {
    const bool timed = runs.fetch_add(1, std::memory_order_relaxed) % kTimedEvery == 0;
    const auto started =
        timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    auto result = work();
    if (timed) {
      auto elapsed = std::chrono::steady_clock::now() - started;
      callbackNanos.fetch_add(
          kTimedEvery * static_cast<uint64_t>(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()),
          std::memory_order_relaxed);
    }
    return result;
  }
};

// Counters and plugin-defined metrics live as long as the plugin's name does: a reload hands them
// from one LoadedPlugin to the next, so they keep counting.
struct PluginCounters {
  PluginStats stats;
  abi::MetricStore metrics;
};

struct LoadedPlugin {
  explicit LoadedPlugin(
      std::shared_ptr<PluginCounters> counters = std::make_shared<PluginCounters>())
      : countersOwner(std::move(counters)),
        metrics(countersOwner->metrics),
        stats(countersOwner->stats) {}

  PluginConfig config;
  std::shared_ptr<const abi::PluginModule> module;
  std::string sha256;  // of the module bytes
  std::shared_ptr<PluginCounters> countersOwner;
  abi::MetricStore& metrics;  // plugin-defined metrics
  PluginStats& stats;
};

class Worker;

class WorkerPlugin final : public abi::PluginHost, private GrpcCallbacks {
 public:
  WorkerPlugin(Worker& worker, std::shared_ptr<LoadedPlugin> plugin);
  ~WorkerPlugin() override;

  // Builds the VM and runs it up to proxy_on_configure.
  Status start();
  // The running VM, or nullptr while it is failed (a rebuild is then scheduled with backoff).
  abi::PluginVm* vm();
  // The VM for a new stream: vm(), except that under FAIL_RELOAD a failed VM is rebuilt here and
  // now if the last start is at least kMinReloadInterval old. nullptr: fail the stream.
  abi::PluginVm* vmForNewStream();
  static constexpr std::chrono::milliseconds kMinReloadInterval{100};
  // Changes whenever a new VM replaces a failed one: stream contexts belong to one generation.
  uint64_t generation() const { return generation_; }
  // abi::PluginVm::callsStreamCallback of the plugin's module, known once a VM has started; it
  // stays known while a failed VM is rebuilt.
  bool callsStreamCallback(abi::Callback cb) const {
    return callsStreamCallback_[static_cast<size_t>(cb)];
  }
  const LoadedPlugin& plugin() const { return *plugin_; }
  LoadedPlugin& plugin() { return *plugin_; }
  // Reports a failed callback: counts it and schedules a rebuild.
  void onVmFailure(const Status& failure);
  std::string state() const;  // "running", "failed: ...", "restarting"

  // abi::PluginHost
  void log(abi::LogLevel level, std::string_view message) override;
  abi::LogLevel logLevel() const override;
  abi::MetricStore& metrics() override { return plugin_->metrics; }
  void setTickPeriod(std::chrono::milliseconds period) override;
  abi::WasmResult httpCall(uint32_t token, const abi::HttpCallRequest& request) override;
  abi::WasmResult grpcCall(uint32_t token, const abi::GrpcCallRequest& request) override;
  abi::WasmResult grpcStream(uint32_t token, const abi::GrpcCallRequest& request) override;
  abi::WasmResult grpcSend(uint32_t token, std::string_view message, bool endStream) override;
  abi::WasmResult grpcClose(uint32_t token) override;
  abi::WasmResult grpcCancel(uint32_t token) override;
  void postQueueReady(uint32_t token) override;
  std::optional<std::string> property(std::span<const std::string_view> path) override;

 private:
  // GrpcCallbacks: answers of this VM's gRPC calls, handed to the root context.
  void onGrpcInitialMetadata(uint32_t token, const abi::Headers& metadata) override;
  void onGrpcMessage(uint32_t token, std::string_view message) override;
  void onGrpcTrailingMetadata(uint32_t token, const abi::Headers& metadata) override;
  void onGrpcClose(uint32_t token, uint32_t status, std::string_view message) override;
  void onGrpcCallDone(uint32_t token) override;
  abi::WasmResult startGrpc(uint32_t token, const abi::GrpcCallRequest& request, bool stream);
  void deliver(const Status& delivered);

  class Callout;
  void onTick();
  void rebuild();
  void calloutDone(Callout* callout);

  Worker& worker_;
  std::shared_ptr<LoadedPlugin> plugin_;
  abi::VmIdHold vmIdHold_;  // keeps the vm_id's shared data while a failed VM is rebuilt
  std::unique_ptr<abi::PluginVm> vm_;
  uint64_t generation_ = 0;
  std::array<bool, static_cast<size_t>(abi::Callback::kCount)> callsStreamCallback_{};
  Status lastFailure_;
  Timer tick_;
  std::chrono::milliseconds tickPeriod_{0};
  Timer rebuildTimer_;
  std::chrono::milliseconds backoff_{100};
  std::chrono::steady_clock::time_point lastStart_;  // of the last VM start attempt
  std::map<uint32_t, std::unique_ptr<Callout>> callouts_;
  std::map<uint32_t, GrpcClient*> grpcCalls_;  // token to the client carrying it
  std::shared_ptr<std::atomic<bool>> alive_;   // cleared on destruction; guards posted tasks
};

// The HTTP plugins of one worker in chain order, and the network ones, for one configuration
// generation. Streams keep the chain they started with until they end. A plugin a reload leaves
// unchanged keeps its VM: the old and the new chain share its WorkerPlugin.
struct WorkerChain {
  std::vector<std::shared_ptr<WorkerPlugin>> http;
  std::vector<std::shared_ptr<WorkerPlugin>> network;
};

}  // namespace wasmgate::proxy
