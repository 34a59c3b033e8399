// Header callbacks gathered over a pass of the event loop and run after its event callbacks, one
// guest entry per plugin for all of them (abi::PluginVm::runHeaderBatch), for plugins whose SDK
// offers it.
//
// Entering a Wasm VM costs more than a small callback itself, mostly in caches the kernel's
// network work has just emptied: a pass that reads the requests of many connections then pays
// for one entry instead of one per request. The streams wait, paused, only until the pass ends.
#pragma once

#include <cstdint>
#include <vector>

#include "abi/plugin_vm.h"
#include "common/status.h"
#include "proxy/event_loop.h"

namespace wasmgate::proxy {

class WorkerPlugin;

// A stream with a header callback in a batch (HttpStream).
class BatchedHeadersClient {
 public:
  // Its callback is about to run: what the plugin does meanwhile (continue, close, local response)
  // is recorded, as during a callback of its own.
  virtual void startBatchedHeaders() = 0;
  // The callback's answer, or why there is none: its VM failed (in it, or in another callback of
  // the batch: `ran` says whether this one had started) or was replaced.
  virtual void finishBatchedHeaders(Result<abi::HeadersStatus> result, bool ran) = 0;

 protected:
  ~BatchedHeadersClient() = default;
};

class HeaderBatcher {
 public:
  explicit HeaderBatcher(EventLoop& loop) : passEnd_(loop, [this] { run(); }) {}

  // Queues `call` for `plugin`'s VM of `generation`; `client` hears of it at the end of the turn
  // unless it cancels first.
  void add(WorkerPlugin& plugin, uint64_t generation, const abi::PluginVm::HeaderCall& call,
           BatchedHeadersClient& client);
  // Forgets the client's queued call: it ended, or no longer waits for the answer.
  void cancel(BatchedHeadersClient& client);

 private:
  // Runs what was queued, and what the answers queue in turn, until nothing is left: after the
  // event callbacks of the loop pass that queued the first call.
  void run();

  struct Entry {
    WorkerPlugin* plugin;
    uint64_t generation;
    abi::PluginVm::HeaderCall call;
    BatchedHeadersClient* client;  // null once cancelled
  };
  // Runs the calls of `group` (entries of one plugin and generation) and delivers the answers.
  void runGroup(std::vector<Entry*>& group);
  static Status runAlone(abi::PluginVm& vm, const abi::PluginVm::HeaderCall& call,
                         abi::HeadersStatus& result);

  PassEndCall passEnd_;
  std::vector<Entry> queued_;
  std::vector<Entry> running_;  // the round being run: answers are delivered from here
  std::vector<Entry*> group_;
  std::vector<abi::PluginVm::HeaderCall> calls_;
  std::vector<abi::HeadersStatus> results_;
};

}  // namespace wasmgate::proxy
