#include "proxy/header_batch.h"

#include <utility>

#include "proxy/plugin_chain.h"
#include "proxy/stream_socket.h"

namespace wasmgate::proxy {

void HeaderBatcher::add(WorkerPlugin& plugin, uint64_t generation,
                        const abi::PluginVm::HeaderCall& call, BatchedHeadersClient& client) {
  queued_.push_back(Entry{&plugin, generation, call, &client});
  passEnd_.request();
}

void HeaderBatcher::cancel(BatchedHeadersClient& client) {
  for (std::vector<Entry>* list : {&queued_, &running_}) {
    for (Entry& entry : *list) {
      if (entry.client == &client) entry.client = nullptr;
    }
  }
}

void HeaderBatcher::run() {
  if (queued_.empty()) return;
  // The answers send what they release (requests upstream, responses downstream) once per
  // socket, when this scope ends.
  StreamSocket::FlushScope flushes;
  while (!queued_.empty()) {
    // Answers queue further calls (a later plugin of the chain): those make the next round.
    running_.swap(queued_);
    for (size_t i = 0; i < running_.size(); ++i) {
      const Entry& first = running_[i];
      if (first.client == nullptr) continue;  // cancelled, or delivered with an earlier group
      group_.clear();
      for (size_t j = i; j < running_.size(); ++j) {
        Entry& entry = running_[j];
        if (entry.client != nullptr && entry.plugin == first.plugin &&
            entry.generation == first.generation) {
          group_.push_back(&entry);
        }
      }
      runGroup(group_);
    }
    running_.clear();
  }
}

// A batch of one is the callback itself: the same single guest entry, without the list.
Status HeaderBatcher::runAlone(abi::PluginVm& vm, const abi::PluginVm::HeaderCall& call,
                               abi::HeadersStatus& result) {
  Result<abi::HeadersStatus> answered =
      call.response ? vm.onResponseHeaders(call.context, call.headers, call.endOfStream)
                    : vm.onRequestHeaders(call.context, call.headers, call.endOfStream);
  if (!answered.isOk()) return answered.status();
  result = *answered;
  return Status::ok();
}

void HeaderBatcher::runGroup(std::vector<Entry*>& group) {
  WorkerPlugin& plugin = *group.front()->plugin;
  abi::PluginVm* vm = plugin.vm();
  Status status;
  size_t completed = 0;  // calls that keep their answers, from the first
  size_t reached = 0;    // calls the guest got to
  if (vm == nullptr) {
    status = errorStatus(StatusCode::kUnavailable, "vm down");
  } else if (plugin.generation() != group.front()->generation) {
    status = errorStatus(StatusCode::kUnavailable, "vm rebuilt");  // contexts died with the old VM
  }
  if (status.isOk()) {
    calls_.clear();
    for (const Entry* entry : group) calls_.push_back(entry->call);
    results_.resize(calls_.size());
    for (Entry* entry : group) entry->client->startBatchedHeaders();
    PluginStats& stats = plugin.plugin().stats;
    status = stats.timeSampled(stats.headerBatches, [&] {
      if (calls_.size() > 1) return vm->runHeaderBatch(calls_, results_, &completed, &reached);
      Status alone = runAlone(*vm, calls_[0], results_[0]);
      completed = alone.isOk() ? 1 : 0;
      reached = 1;
      return alone;
    });
    stats.callbacks.fetch_add(calls_.size(), std::memory_order_relaxed);
    stats.batchedHeaderCallbacks.fetch_add(calls_.size(), std::memory_order_relaxed);
    if (!status.isOk()) plugin.onVmFailure(status);
  }
  for (size_t k = 0; k < group.size(); ++k) {
    BatchedHeadersClient* client = std::exchange(group[k]->client, nullptr);
    if (client == nullptr) continue;  // cancelled while its callback ran
    // When the VM failed in a later call of the batch, the calls before it that completed keep
    // their answers (runHeaderBatch): those streams go on as streams in flight do.
    client->finishBatchedHeaders(k < completed ? Result<abi::HeadersStatus>(results_[k])
                                               : Result<abi::HeadersStatus>(status),
                                 k < reached);
  }
}

}  // namespace wasmgate::proxy
