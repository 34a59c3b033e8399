#include "abi/shared_state.h"

#include "abi/limits.h"

namespace wasmgate::abi {

std::optional<SharedData::Entry> SharedData::get(std::string_view vmId, std::string_view key) {
  std::lock_guard lock(mutex_);
  auto vm = byVm_.find(vmId);
  if (vm == byVm_.end()) return std::nullopt;
  auto it = vm->second.find(key);
  if (it == vm->second.end()) return std::nullopt;
  return it->second;
}

uint32_t SharedData::nextCas() {
  if (++casCounter_ == 0) ++casCounter_;
  return casCounter_;
}

WasmResult SharedData::set(std::string_view vmId, std::string_view key, std::string_view value,
                           uint32_t cas) {
  std::lock_guard lock(mutex_);
  auto vm = byVm_.find(vmId);
  if (vm == byVm_.end()) vm = byVm_.emplace(std::string(vmId), decltype(vm->second){}).first;
  auto it = vm->second.find(key);
  if (it == vm->second.end()) {
    vm->second.emplace(std::string(key), Entry{std::string(value), nextCas()});
    return WasmResult::kOk;
  }
  if (cas != 0 && cas != it->second.cas) return WasmResult::kCasMismatch;
  it->second.value.assign(value);
  it->second.cas = nextCas();
  return WasmResult::kOk;
}

void SharedData::dropVmId(std::string_view vmId) {
  std::lock_guard lock(mutex_);
  if (auto vm = byVm_.find(vmId); vm != byVm_.end()) byVm_.erase(vm);
}

uint32_t SharedQueues::registerQueue(std::string_view vmId, std::string_view name,
                                     const void* owner, Notifier notifier) {
  std::lock_guard lock(mutex_);
  for (auto& [token, queue] : queues_) {
    if (queue.vmId == vmId && queue.name == name) {
      queue.owner = owner;
      queue.notifier = std::move(notifier);
      return token;
    }
  }
  uint32_t token = nextToken_++;
  queues_.emplace(token,
                  Queue{std::string(vmId), std::string(name), {}, owner, std::move(notifier)});
  return token;
}

std::optional<uint32_t> SharedQueues::resolve(std::string_view vmId, std::string_view name) {
  std::lock_guard lock(mutex_);
  for (const auto& [token, queue] : queues_) {
    if (queue.vmId == vmId && queue.name == name) return token;
  }
  return std::nullopt;
}

WasmResult SharedQueues::enqueue(uint32_t token, std::string_view value) {
  Notifier notify;
  {
    std::lock_guard lock(mutex_);
    auto it = queues_.find(token);
    if (it == queues_.end()) return WasmResult::kNotFound;
    if (it->second.items.size() >= kMaxSharedQueueItems) return WasmResult::kInternalFailure;
    it->second.items.emplace_back(value);
    notify = it->second.notifier;
  }
  if (notify) notify(token);  // outside the lock: the notifier takes its own locks
  return WasmResult::kOk;
}

WasmResult SharedQueues::dequeue(uint32_t token, std::string& value) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(token);
  if (it == queues_.end()) return WasmResult::kNotFound;
  if (it->second.items.empty()) return WasmResult::kEmpty;
  value = std::move(it->second.items.front());
  it->second.items.pop_front();
  return WasmResult::kOk;
}

void SharedQueues::unregisterOwner(const void* owner) {
  std::lock_guard lock(mutex_);
  for (auto& [token, queue] : queues_) {
    if (queue.owner == owner) {
      queue.owner = nullptr;
      queue.notifier = nullptr;
    }
  }
}

void SharedQueues::dropVmId(std::string_view vmId) {
  std::lock_guard lock(mutex_);
  std::erase_if(queues_, [&](const auto& entry) { return entry.second.vmId == vmId; });
}

SharedData& sharedData() {
  static SharedData instance;
  return instance;
}

SharedQueues& sharedQueues() {
  static SharedQueues instance;
  return instance;
}

namespace {

struct VmIdUsers {
  std::mutex mutex;
  std::map<std::string, size_t, std::less<>> count;
};

VmIdUsers& vmIdUsers() {
  static VmIdUsers users;
  return users;
}

}  // namespace

void retainVmId(std::string_view vmId) {
  VmIdUsers& users = vmIdUsers();
  std::lock_guard lock(users.mutex);
  auto it = users.count.find(vmId);
  if (it == users.count.end()) it = users.count.emplace(std::string(vmId), 0).first;
  ++it->second;
}

void releaseVmId(std::string_view vmId) {
  VmIdUsers& users = vmIdUsers();
  std::lock_guard lock(users.mutex);
  auto it = users.count.find(vmId);
  if (it == users.count.end() || --it->second > 0) return;
  users.count.erase(it);
  // Under the users' lock, so that a VM of this vm_id created meanwhile finds nothing half gone.
  sharedData().dropVmId(vmId);
  sharedQueues().dropVmId(vmId);
}

}  // namespace wasmgate::abi
