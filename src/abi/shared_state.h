// Shared data and shared queues: process-wide and thread-safe, as Proxy-Wasm requires. This is
// the only mutable state in wasmgate that is global by design.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "abi/abi_types.h"

namespace wasmgate::abi {

class SharedData {
 public:
  struct Entry {
    std::string value;
    uint32_t cas;
  };
  std::optional<Entry> get(std::string_view vmId, std::string_view key);
  // cas 0 writes unconditionally; otherwise it must match the stored CAS (a missing key always
  // succeeds). Every successful write takes a fresh, non-zero CAS.
  WasmResult set(std::string_view vmId, std::string_view key, std::string_view value, uint32_t cas);
  // Forgets every key of `vmId`.
  void dropVmId(std::string_view vmId);

 private:
  uint32_t nextCas();
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, Entry, std::less<>>, std::less<>> byVm_;
  uint32_t casCounter_ = 0;
};

class SharedQueues {
 public:
  // Called (from any thread) once per enqueue, with the queue's token; it must hand the
  // notification to the registering VM's own thread, never call into that VM directly.
  using Notifier = std::function<void(uint32_t token)>;

  // Creates or re-opens (vmId, name); the registrant's notifier replaces any earlier one.
  // `owner` identifies the registrant so it can unregister when it goes away.
  uint32_t registerQueue(std::string_view vmId, std::string_view name, const void* owner,
                         Notifier notifier);
  std::optional<uint32_t> resolve(std::string_view vmId, std::string_view name);
  WasmResult enqueue(uint32_t token, std::string_view value);
  // kOk with the value, kEmpty, or kNotFound.
  WasmResult dequeue(uint32_t token, std::string& value);
  // Drops every notifier registered by `owner`; its queues and items stay.
  void unregisterOwner(const void* owner);
  // Forgets every queue of `vmId`, items and all: their tokens answer NotFound from now on.
  void dropVmId(std::string_view vmId);

 private:
  struct Queue {
    std::string vmId;
    std::string name;
    std::deque<std::string> items;
    const void* owner = nullptr;
    Notifier notifier;
  };
  std::mutex mutex_;
  std::map<uint32_t, Queue> queues_;
  uint32_t nextToken_ = 1;
};

SharedData& sharedData();
SharedQueues& sharedQueues();

// The VMs of each vm_id, counted: a vm_id's shared data and queues live as long as one of its VMs
// does (as in Envoy, where they go with the vm_id's last VM). A reload builds the new VMs before
// the old ones go, so what a changed plugin stored survives it; a plugin removed for good takes
// its data with it. Every PluginVm holds its vm_id (VmIdHold), and so does the proxy's plugin on
// each worker, across the rebuild of a failed VM.
void retainVmId(std::string_view vmId);
void releaseVmId(std::string_view vmId);

class VmIdHold {
 public:
  explicit VmIdHold(std::string vmId) : vmId_(std::move(vmId)) { retainVmId(vmId_); }
  ~VmIdHold() { releaseVmId(vmId_); }
  VmIdHold(const VmIdHold&) = delete;
  VmIdHold& operator=(const VmIdHold&) = delete;

 private:
  std::string vmId_;
};

}  // namespace wasmgate::abi
