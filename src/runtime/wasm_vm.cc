#include "runtime/wasm_vm.h"

#include <algorithm>
#include <utility>

namespace wasmgate::runtime {
namespace {

struct OpenBatch {
  bool open = false;
  // In the order taken; released in reverse.
  std::vector<std::pair<const void*, std::unique_ptr<CallBatch::HeldLock>>> held;
};

OpenBatch& thisThreadsBatch() {
  thread_local OpenBatch batch;
  return batch;
}

}  // namespace

CallBatch::CallBatch() : outermost_(!thisThreadsBatch().open) {
  thisThreadsBatch().open = true;
}

CallBatch::~CallBatch() {
  if (!outermost_) return;
  OpenBatch& batch = thisThreadsBatch();
  while (!batch.held.empty()) batch.held.pop_back();
  batch.open = false;
}

bool CallBatch::isOpen() {
  return thisThreadsBatch().open;
}

void CallBatch::hold(const void* owner, std::unique_ptr<HeldLock> lock) {
  thisThreadsBatch().held.emplace_back(owner, std::move(lock));
}

bool CallBatch::holds(const void* owner) {
  const auto& held = thisThreadsBatch().held;
  return std::any_of(held.begin(), held.end(), [owner](const auto& h) { return h.first == owner; });
}

void CallBatch::releaseEarly(const void* owner) {
  if (!holds(owner)) return;
  auto& held = thisThreadsBatch().held;
  while (!held.empty()) held.pop_back();
}

const HostFunction* HostFunctionTable::find(std::string_view module, std::string_view name) const {
  for (const auto& fn : functions_) {
    if (fn.module == module && fn.name == name) return &fn;
  }
  return nullptr;
}

std::optional<std::span<uint8_t>> WasmInstance::range(uint32_t ptr, uint32_t len) {
  std::span<uint8_t> mem = memory();
  // 64-bit arithmetic: ptr + len cannot wrap.
  if (static_cast<uint64_t>(ptr) + len > mem.size()) return std::nullopt;
  return mem.subspan(ptr, len);
}

std::optional<std::string_view> WasmInstance::readString(uint32_t ptr, uint32_t len) {
  auto r = range(ptr, len);
  if (!r) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(r->data()), r->size());
}

bool WasmInstance::write(uint32_t ptr, std::span<const uint8_t> data) {
  if (data.size() > UINT32_MAX) return false;
  auto r = range(ptr, static_cast<uint32_t>(data.size()));
  if (!r) return false;
  if (!data.empty()) std::memcpy(r->data(), data.data(), data.size());
  return true;
}

bool WasmInstance::write(uint32_t ptr, std::string_view data) {
  return write(
      ptr, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::optional<uint32_t> WasmInstance::readU32(uint32_t ptr) {
  auto r = range(ptr, 4);
  if (!r) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, r->data(), 4);  // Wasm is little-endian, and so are the hosts we build for
  return v;
}

bool WasmInstance::writeU32(uint32_t ptr, uint32_t value) {
  auto r = range(ptr, 4);
  if (!r) return false;
  std::memcpy(r->data(), &value, 4);
  return true;
}

bool WasmInstance::writeU64(uint32_t ptr, uint64_t value) {
  auto r = range(ptr, 8);
  if (!r) return false;
  std::memcpy(r->data(), &value, 8);
  return true;
}

}  // namespace wasmgate::runtime
