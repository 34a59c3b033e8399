// The engine interface: compile a module once, instantiate it many times (on any thread), bind
// host functions, call exports, and read or write guest memory with bounds checks. Code above this
// layer never names an engine; the V8 backend lives in runtime/v8/.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/module_info.h"

namespace wasmgate::runtime {

class WasmInstance;

// A host function receives its arguments widened to u64 (i32 values zero-extended) and writes its
// single result, if it has one, to `result`. A non-ok status traps the calling guest with that
// status; the guest's call then returns it.
using HostCallback = Status (*)(WasmInstance& instance, std::span<const uint64_t> args,
                                uint64_t& result);

struct HostFunction {
  std::string module;
  std::string name;
  FuncType type;
  HostCallback callback = nullptr;
};

// The functions a host offers, looked up by module and name when a module is instantiated. It
// must outlive every instance linked against it.
class HostFunctionTable {
 public:
  void add(HostFunction fn) { functions_.push_back(std::move(fn)); }
  const HostFunction* find(std::string_view module, std::string_view name) const;
  const std::vector<HostFunction>& all() const { return functions_; }

 private:
  std::vector<HostFunction> functions_;
};

struct CompileOptions {
  uint32_t maxMemoryPages = 0;  // 0: as the module declares; else the cap on linear memory
};

// Instances made in one group share one engine heap (for V8, one isolate): a few hundred KiB
// less per instance, and no switch of heaps between calls into different instances. They stay
// separate sandboxes: each has its own linear memory, globals and tables, and a trap, a
// deadline or a memory cap stops only the call it happens in. Calls into a group's instances
// are serialized (one thread at a time), so a group is for the instances one thread serves, such
// as one worker's plugins.
class InstanceGroup {
 public:
  virtual ~InstanceGroup() = default;
};

struct InstanceOptions {
  std::chrono::nanoseconds callDeadline{0};  // 0: no deadline; per outermost guest call
  std::shared_ptr<InstanceGroup> group;      // null: the instance has a heap of its own
};

// Compiled code, immutable, shared by every instance of the module on every thread.
class CompiledModule {
 public:
  virtual ~CompiledModule() = default;
  virtual const ModuleInfo& info() const = 0;
  virtual uint32_t maxMemoryPages() const = 0;  // 0 when uncapped
};
using CompiledModulePtr = std::shared_ptr<const CompiledModule>;

using FunctionHandle = uint32_t;

// One sandbox: its own linear memory and globals. Used by one thread at a time.
class WasmInstance {
 public:
  virtual ~WasmInstance() = default;

  // An exported function with exactly this type, or nullopt.
  virtual std::optional<FunctionHandle> function(std::string_view name, const FuncType& type) = 0;
  // Calls the guest. Traps, deadline overruns and host-requested traps come back as statuses.
  Status call(FunctionHandle fn, std::span<const uint64_t> args, uint64_t* result) {
    return call(fn, args, result, 1);
  }
  // The same for a call that stands for `callbacks` callbacks (a batch of them): as the outermost
  // call it may run for that many call deadlines.
  virtual Status call(FunctionHandle fn, std::span<const uint64_t> args, uint64_t* result,
                      uint32_t callbacks) = 0;

  // The guest's linear memory as it is now; any call into the guest may move or grow it.
  virtual std::span<uint8_t> memory() = 0;

  // Bounds-checked access; false or nullopt when [ptr, ptr+len) is not inside linear memory.
  std::optional<std::span<uint8_t>> range(uint32_t ptr, uint32_t len);
  std::optional<std::string_view> readString(uint32_t ptr, uint32_t len);
  bool write(uint32_t ptr, std::span<const uint8_t> data);
  bool write(uint32_t ptr, std::string_view data);
  std::optional<uint32_t> readU32(uint32_t ptr);
  bool writeU32(uint32_t ptr, uint32_t value);
  bool writeU64(uint32_t ptr, uint64_t value);

  // The embedder's per-instance object (the ABI layer's VM), reachable from host callbacks.
  void setEmbedderData(void* data) { embedderData_ = data; }
  void* embedderData() const { return embedderData_; }
  // The host function being called right now (valid inside a HostCallback).
  const HostFunction* currentHostFunction() const { return currentHost_; }
  void setCurrentHostFunction(const HostFunction* fn) { currentHost_ = fn; }

 private:
  void* embedderData_ = nullptr;
  const HostFunction* currentHost_ = nullptr;
};

// Entering a sandbox from a thread costs a lock handoff (for V8, a v8::Locker: about 200 ns of
// the ~300 ns of an empty call). A thread that makes many calls in a row, such as an event loop
// during one turn, opens a CallBatch: each sandbox it calls stays locked by this thread until the
// batch closes, so only the first call into each sandbox pays for the lock. Another thread that
// needs one of those sandboxes (to destroy it, say) waits until the batch closes, so a batch must
// be short and its thread must not wait on other threads while it is open. Batches on one thread
// do not nest: an inner one is a no-op.
class CallBatch {
 public:
  // A lock an engine parks in the open batch of this thread; released when the batch closes.
  class HeldLock {
   public:
    virtual ~HeldLock() = default;
  };

  CallBatch();
  ~CallBatch();
  CallBatch(const CallBatch&) = delete;
  CallBatch& operator=(const CallBatch&) = delete;

  // For engines: whether this thread has a batch open.
  static bool isOpen();
  // For engines: parks `lock`, taken for `owner`, until the batch closes. Requires isOpen().
  static void hold(const void* owner, std::unique_ptr<HeldLock> lock);
  // For engines: whether this thread's batch holds a lock for `owner`.
  static bool holds(const void* owner);
  // For engines: if this thread's batch holds a lock for `owner` (an instance being destroyed on
  // the thread that holds it), releases every lock the batch holds, newest first: engines may
  // nest what they hold (V8 isolate entries do), so one cannot leave from the middle.
  static void releaseEarly(const void* owner);

 private:
  bool outermost_;
};

class WasmEngine {
 public:
  virtual ~WasmEngine() = default;
  virtual std::string_view name() const = 0;
  virtual Result<CompiledModulePtr> compile(std::span<const uint8_t> bytes,
                                            const CompileOptions& options) = 0;
  // Links every import of the module against `hosts`: a missing import or one whose type differs
  // fails with kLinkError naming it.
  // A group to instantiate into (InstanceOptions::group).
  virtual std::shared_ptr<InstanceGroup> newGroup() = 0;
  virtual Result<std::unique_ptr<WasmInstance>> instantiate(const CompiledModulePtr& module,
                                                            const HostFunctionTable& hosts,
                                                            const InstanceOptions& options) = 0;
};

}  // namespace wasmgate::runtime
