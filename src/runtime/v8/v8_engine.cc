#include "runtime/v8/v8_engine.h"

#include <libplatform/libplatform.h>
#include <v8.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "runtime/watchdog.h"

namespace wasmgate::runtime {
namespace {

// V8 may be initialised once per process; its platform lives until exit.
v8::Platform* initializeV8() {
  static std::once_flag once;
  static std::unique_ptr<v8::Platform> platform;
  std::call_once(once, [] {
    platform = v8::platform::NewDefaultPlatform();
    v8::V8::InitializePlatform(platform.get());
    v8::V8::Initialize();
  });
  return platform.get();
}

// An i32 as V8 passes it between wasm and the embedder: a small integer (Smi) stored in the
// handle's slot. Read in place, as V8's own inline API functions read values, instead of two
// calls into the library (IsInt32, Int32::Value); anything else is left to the caller.
std::optional<int32_t> smallInteger(v8::Local<v8::Value> value) {
  using v8::internal::Address;
  using v8::internal::Internals;
  const Address tagged = *reinterpret_cast<const Address*>(*value);
  if (Internals::HasHeapObjectTag(tagged)) return std::nullopt;
  return Internals::SmiValue(tagged);
}

std::string exceptionText(v8::Isolate* isolate, v8::Local<v8::Value> exception) {
  v8::String::Utf8Value text(isolate, exception);
  return *text ? std::string(*text, text.length()) : std::string("unknown exception");
}

class V8CompiledModule final : public CompiledModule {
 public:
  V8CompiledModule(ModuleInfo info, v8::CompiledWasmModule compiled, uint32_t maxPages)
      : info_(std::move(info)), compiled_(std::move(compiled)), maxPages_(maxPages) {}
  const ModuleInfo& info() const override { return info_; }
  uint32_t maxMemoryPages() const override { return maxPages_; }
  const v8::CompiledWasmModule& compiled() const { return compiled_; }

 private:
  ModuleInfo info_;
  v8::CompiledWasmModule compiled_;
  uint32_t maxPages_;
};

class V8Instance;

// What a V8 trampoline needs to reach the host function and its instance.
struct ImportBinding {
  V8Instance* instance;
  const HostFunction* host;
};

// One isolate: a heap and its lock. An instance owns one alone, or shares its group's.
class V8Heap final : public InstanceGroup {
 public:
  explicit V8Heap(v8::ArrayBuffer::Allocator* allocator) {
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator;
    isolate_ = v8::Isolate::New(params);
    // Guests run no promises; with the default policy every outermost call would end in a
    // microtask checkpoint.
    isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  }
  ~V8Heap() override {
    garbagePending_ = false;
    CallBatch::releaseEarly(this);
    isolate_->Dispose();
  }
  V8Heap(const V8Heap&) = delete;
  V8Heap& operator=(const V8Heap&) = delete;

  v8::Isolate* isolate() const { return isolate_; }

  // An instance of a shared heap went: its context, instance and linear memory are garbage, which
  // a heap that runs almost no JavaScript would keep until some much later collection. The
  // isolate's lock must be held for both.
  void noteGarbage() { garbagePending_ = true; }
  void collectGarbage() {
    if (!std::exchange(garbagePending_, false)) return;
    isolate_->LowMemoryNotification();
  }

 private:
  v8::Isolate* isolate_;
  bool garbagePending_ = false;
};

// What a call batch keeps between calls (see CallBatch): the isolate locked by this thread, and
// entered, so that a call's own Locker and Isolate::Scope find both done (a re-entry is a counter
// increment; a first entry takes a mutex and sets thread-locals). What instances that went
// during the batch left behind is collected as the batch ends, once however many went.
class BatchLocker final : public CallBatch::HeldLock {
 public:
  explicit BatchLocker(V8Heap& heap)
      : heap_(heap), locker_(heap.isolate()), entered_(heap.isolate()), handles_(heap.isolate()) {
    // One handle, so the scope owns a block of them: the calls' own scopes then fit in that
    // block instead of taking a new one and freeing it each time.
    (void)v8::Integer::New(heap.isolate(), 0);
  }
  ~BatchLocker() override { heap_.collectGarbage(); }

 private:
  V8Heap& heap_;
  v8::Locker locker_;
  v8::Isolate::Scope entered_;
  v8::HandleScope handles_;
};

class V8Instance final : public WasmInstance {
 public:
  V8Instance(std::shared_ptr<const V8CompiledModule> module, Watchdog& watchdog,
             const InstanceOptions& options, std::shared_ptr<V8Heap> heap)
      : module_(std::move(module)),
        watchdog_(watchdog),
        options_(options),
        heap_(std::move(heap)),
        isolate_(heap_->isolate()) {
    options_.group.reset();  // heap_ holds it
    v8::Isolate* isolate = isolate_;
    watchSlot_ = watchdog_.addSlot([isolate] { isolate->TerminateExecution(); });
  }

  ~V8Instance() override {
    watchdog_.removeSlot(watchSlot_);
    const bool heapLivesOn = heap_.use_count() > 1;
    // The batch (which collects as it ends, once for all instances that went) must take the lock
    // before this destructor does: V8 unlocks when the outermost Locker of a thread goes, and
    // the batch's is to outlive this one.
    const bool batched = heapLivesOn && CallBatch::isOpen();
    if (batched) holdInBatch();
    {
      v8::Locker locker(isolate_);
      v8::Isolate::Scope entered(isolate_);
      exportFunctions_.clear();
      memory_.Reset();
      exports_.Reset();
      context_.Reset();
      if (heapLivesOn) {  // the isolate lives on: collect what this instance leaves
        isolate_->ContextDisposedNotification();
        heap_->noteGarbage();
        if (!batched) heap_->collectGarbage();
      }
    }
    heap_.reset();  // the last instance of a heap of its own disposes the isolate
  }

  Status link(const HostFunctionTable& hosts);

  // Has this thread's open batch keep the heap locked and entered until it ends.
  void holdInBatch() {
    if (!CallBatch::holds(heap_.get())) {
      CallBatch::hold(heap_.get(), std::make_unique<BatchLocker>(*heap_));
    }
  }

  std::optional<FunctionHandle> function(std::string_view name, const FuncType& type) override {
    const FuncType* actual = module_->info().exportedFunction(name);
    if (!actual || !(*actual == type)) return std::nullopt;
    if (auto known = exportHandles_.find(name); known != exportHandles_.end()) return known->second;
    v8::Locker locker(isolate_);
    v8::Isolate::Scope isolateScope(isolate_);
    v8::HandleScope handles(isolate_);
    v8::Local<v8::Context> context = context_.Get(isolate_);
    v8::Context::Scope contextScope(context);
    v8::Local<v8::Value> value;
    if (!exports_.Get(isolate_)->Get(context, toV8(name)).ToLocal(&value) || !value->IsFunction()) {
      return std::nullopt;
    }
    exportFunctions_.emplace_back(isolate_, value.As<v8::Function>());
    exportTypes_.push_back(*actual);
    auto handle = static_cast<FunctionHandle>(exportFunctions_.size() - 1);
    exportHandles_.emplace(std::string(name), handle);
    return handle;
  }

  using WasmInstance::call;
  Status call(FunctionHandle fn, std::span<const uint64_t> args, uint64_t* result,
              uint32_t callbacks) override;
  Status callEntered(FunctionHandle fn, const FuncType& type, std::span<const uint64_t> args,
                     uint64_t* result, uint32_t callbacks);

  std::span<uint8_t> memory() override {
    if (!memoryValid_) refreshMemory();
    return {memoryBase_, memorySize_};
  }

  void invalidateMemory() { memoryValid_ = false; }
  void setHostFailure(Status status) { hostFailure_ = std::move(status); }
  v8::Isolate* isolate() const { return isolate_; }

 private:
  v8::Local<v8::String> toV8(std::string_view s) {
    return v8::String::NewFromUtf8(isolate_, s.data(), v8::NewStringType::kNormal,
                                   static_cast<int>(s.size()))
        .ToLocalChecked();
  }
  void refreshMemory();
  Status failureFromException(v8::TryCatch& tryCatch, bool deadlineFired);

  std::shared_ptr<const V8CompiledModule> module_;
  Watchdog& watchdog_;
  Watchdog::Slot* watchSlot_ = nullptr;
  InstanceOptions options_;
  std::shared_ptr<V8Heap> heap_;
  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Object> exports_;
  v8::Global<v8::WasmMemoryObject> memory_;
  std::vector<v8::Global<v8::Function>> exportFunctions_;
  std::vector<FuncType> exportTypes_;
  std::map<std::string, FunctionHandle, std::less<>> exportHandles_;  // one handle per export
  std::vector<ImportBinding> bindings_;
  uint8_t* memoryBase_ = nullptr;
  size_t memorySize_ = 0;
  bool memoryValid_ = false;
  int callDepth_ = 0;
  Status hostFailure_;
};

void hostTrampoline(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* binding = static_cast<ImportBinding*>(info.Data().As<v8::External>()->Value());
  const FuncType& type = binding->host->type;
  uint64_t args[16] = {};
  std::vector<uint64_t> manyArgs;
  uint64_t* argv = args;
  if (type.params.size() > std::size(args)) {
    manyArgs.resize(type.params.size());
    argv = manyArgs.data();
  }
  for (size_t i = 0; i < type.params.size(); ++i) {
    v8::Local<v8::Value> arg = info[static_cast<int>(i)];
    if (type.params[i] == ValType::kI64) {
      v8::Local<v8::BigInt> big;
      if (arg->ToBigInt(info.GetIsolate()->GetCurrentContext()).ToLocal(&big)) {
        argv[i] = big->Uint64Value();
      }
    } else if (std::optional<int32_t> small = smallInteger(arg)) {  // what wasm passes for an i32
      argv[i] = static_cast<uint32_t>(*small);
    } else {
      argv[i] = arg->Uint32Value(info.GetIsolate()->GetCurrentContext()).FromMaybe(0);
    }
  }
  V8Instance* instance = binding->instance;
  instance->invalidateMemory();  // the guest may have grown its memory since the last look
  instance->setCurrentHostFunction(binding->host);
  uint64_t result = 0;
  Status status = binding->host->callback(*instance, std::span(argv, type.params.size()), result);
  instance->invalidateMemory();  // the host may have called into the guest (its allocator)
  if (!status.isOk()) {
    v8::Isolate* isolate = info.GetIsolate();
    std::string message = status.toString();
    instance->setHostFailure(std::move(status));
    isolate->ThrowException(
        v8::Exception::Error(v8::String::NewFromUtf8(isolate, message.c_str()).ToLocalChecked()));
    return;
  }
  if (type.results.empty()) return;
  if (type.results[0] == ValType::kI64) {
    info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), result));
  } else {
    info.GetReturnValue().Set(static_cast<int32_t>(static_cast<uint32_t>(result)));
  }
}

Status V8Instance::link(const HostFunctionTable& hosts) {
  const ModuleInfo& info = module_->info();
  bindings_.reserve(info.imports.size());  // stable addresses: V8 keeps pointers to them
  for (const ImportDesc& imp : info.imports) {
    std::string what = imp.module + "." + imp.name;
    if (imp.kind != ExternKind::kFunction) {
      return errorStatus(StatusCode::kLinkError, "unsupported non-function import " + what);
    }
    const HostFunction* host = hosts.find(imp.module, imp.name);
    if (!host) return errorStatus(StatusCode::kLinkError, "missing import " + what);
    if (!(host->type == imp.type)) {
      return errorStatus(StatusCode::kLinkError, "import " + what + " has type " +
                                                     imp.type.toString() + ", the host provides " +
                                                     host->type.toString());
    }
    bindings_.push_back(ImportBinding{this, host});
  }

  v8::Locker locker(isolate_);
  v8::Isolate::Scope isolateScope(isolate_);
  v8::HandleScope handles(isolate_);
  v8::Local<v8::Context> context = v8::Context::New(isolate_);
  v8::Context::Scope contextScope(context);
  context_.Reset(isolate_, context);
  v8::TryCatch tryCatch(isolate_);

  v8::Local<v8::WasmModuleObject> moduleObject;
  if (!v8::WasmModuleObject::FromCompiledModule(isolate_, module_->compiled())
           .ToLocal(&moduleObject)) {
    return errorStatus(StatusCode::kInternal, "cannot load compiled module into a new isolate");
  }
  v8::Local<v8::Object> imports = v8::Object::New(isolate_);
  for (size_t i = 0; i < info.imports.size(); ++i) {
    const ImportDesc& imp = info.imports[i];
    v8::Local<v8::Value> moduleValue;
    v8::Local<v8::String> moduleName = toV8(imp.module);
    if (!imports->Get(context, moduleName).ToLocal(&moduleValue) || !moduleValue->IsObject()) {
      moduleValue = v8::Object::New(isolate_);
      if (imports->Set(context, moduleName, moduleValue).IsNothing()) {
        return errorStatus(StatusCode::kInternal, "cannot build the import object");
      }
    }
    v8::Local<v8::Function> fn =
        v8::Function::New(context, hostTrampoline, v8::External::New(isolate_, &bindings_[i]))
            .ToLocalChecked();
    if (moduleValue.As<v8::Object>()->Set(context, toV8(imp.name), fn).IsNothing()) {
      return errorStatus(StatusCode::kInternal, "cannot build the import object");
    }
  }

  v8::Local<v8::Value> wasmNamespace, instanceCtor, instanceValue, exportsValue, memoryValue;
  v8::Local<v8::Value> ctorArgs[] = {moduleObject, imports};
  if (!context->Global()->Get(context, toV8("WebAssembly")).ToLocal(&wasmNamespace) ||
      !wasmNamespace.As<v8::Object>()->Get(context, toV8("Instance")).ToLocal(&instanceCtor) ||
      !instanceCtor.As<v8::Function>()->NewInstance(context, 2, ctorArgs).ToLocal(&instanceValue)) {
    std::string why = tryCatch.HasCaught() ? exceptionText(isolate_, tryCatch.Exception()) : "";
    if (!hostFailure_.isOk()) return std::exchange(hostFailure_, Status());
    return errorStatus(StatusCode::kTrap, "instantiation failed: " + why);
  }
  if (!instanceValue.As<v8::Object>()->Get(context, toV8("exports")).ToLocal(&exportsValue)) {
    return errorStatus(StatusCode::kInternal, "instance has no exports object");
  }
  exports_.Reset(isolate_, exportsValue.As<v8::Object>());
  if (exportsValue.As<v8::Object>()->Get(context, toV8("memory")).ToLocal(&memoryValue) &&
      memoryValue->IsWasmMemoryObject()) {
    memory_.Reset(isolate_, memoryValue.As<v8::WasmMemoryObject>());
  }
  return Status::ok();
}

void V8Instance::refreshMemory() {
  memoryValid_ = true;
  memoryBase_ = nullptr;
  memorySize_ = 0;
  if (memory_.IsEmpty()) return;
  auto read = [this] {
    v8::HandleScope handles(isolate_);
    v8::Local<v8::ArrayBuffer> buffer = memory_.Get(isolate_)->Buffer();
    memoryBase_ = static_cast<uint8_t*>(buffer->Data());
    memorySize_ = buffer->ByteLength();
  };
  if (callDepth_ > 0) return read();  // from a host function: locked and entered already
  v8::Locker locker(isolate_);
  v8::Isolate::Scope isolateScope(isolate_);
  read();
}

Status V8Instance::failureFromException(v8::TryCatch& tryCatch, bool deadlineFired) {
  if (deadlineFired || tryCatch.HasTerminated()) {
    isolate_->CancelTerminateExecution();
    return errorStatus(StatusCode::kDeadlineExceeded,
                       "guest call ran past its deadline of " +
                           std::to_string(options_.callDeadline.count() / 1000000) + " ms");
  }
  if (!hostFailure_.isOk()) return std::exchange(hostFailure_, Status());
  std::string message =
      tryCatch.HasCaught() ? exceptionText(isolate_, tryCatch.Exception()) : "unknown failure";
  invalidateMemory();
  uint32_t capPages = module_->maxMemoryPages();
  if (capPages != 0 && memory().size() >= static_cast<size_t>(capPages) * kWasmPageSize) {
    return errorStatus(
        StatusCode::kMemoryCapExceeded,
        message + " (linear memory is at its cap of " + std::to_string(capPages) + " pages)");
  }
  return errorStatus(StatusCode::kTrap, message);
}

Status V8Instance::call(FunctionHandle fn, std::span<const uint64_t> args, uint64_t* result,
                        uint32_t callbacks) {
  if (fn >= exportFunctions_.size()) return errorStatus(StatusCode::kBadArgument, "bad function");
  const FuncType& type = exportTypes_[fn];
  if (args.size() != type.params.size()) {
    return errorStatus(StatusCode::kBadArgument, "wrong argument count");
  }
  if (callDepth_ > 0) {
    return callEntered(fn, type, args, result, callbacks);  // from a host function: entered
  }
  if (CallBatch::isOpen()) {
    holdInBatch();
    // The batch holds the lock; if no other isolate was entered since, this one still is.
    if (v8::Isolate::TryGetCurrent() == isolate_ && v8::Locker::IsLocked(isolate_)) {
      return callEntered(fn, type, args, result, callbacks);
    }
  }
  v8::Locker locker(isolate_);
  v8::Isolate::Scope isolateScope(isolate_);
  return callEntered(fn, type, args, result, callbacks);
}

// The call itself, with the isolate locked and entered on this thread. Function::Call enters the
// context for the duration of the call.
Status V8Instance::callEntered(FunctionHandle fn, const FuncType& type,
                               std::span<const uint64_t> args, uint64_t* result,
                               uint32_t callbacks) {
  v8::HandleScope handles(isolate_);
  v8::Local<v8::Context> context = context_.Get(isolate_);
  v8::TryCatch tryCatch(isolate_);

  v8::Local<v8::Value> argv[16];
  if (args.size() > std::size(argv)) return errorStatus(StatusCode::kBadArgument, "too many args");
  for (size_t i = 0; i < args.size(); ++i) {
    argv[i] = type.params[i] == ValType::kI64
                  ? v8::Local<v8::Value>(v8::BigInt::NewFromUnsigned(isolate_, args[i]))
                  : v8::Local<v8::Value>(v8::Integer::New(
                        isolate_, static_cast<int32_t>(static_cast<uint32_t>(args[i]))));
  }

  bool outermost = callDepth_++ == 0;
  bool watched = outermost && options_.callDeadline.count() > 0;
  if (watched) {
    watchSlot_->arm(Watchdog::Clock::now() + options_.callDeadline * std::max(callbacks, 1u));
  }
  v8::MaybeLocal<v8::Value> returned = exportFunctions_[fn].Get(isolate_)->Call(
      context, v8::Undefined(isolate_), static_cast<int>(args.size()), argv);
  bool deadlineFired = watched && watchSlot_->disarm();
  --callDepth_;
  invalidateMemory();

  v8::Local<v8::Value> value;
  if (!returned.ToLocal(&value)) {
    if (!outermost && tryCatch.HasTerminated()) tryCatch.ReThrow();  // let the outer call report it
    v8::Context::Scope contextScope(context);  // to turn the exception into text
    return failureFromException(tryCatch, deadlineFired);
  }
  if (deadlineFired) isolate_->CancelTerminateExecution();  // fired just as the call returned
  if (result && !type.results.empty()) {
    if (type.results[0] == ValType::kI64) {
      v8::Local<v8::BigInt> big;
      *result = value->ToBigInt(context).ToLocal(&big) ? big->Uint64Value() : 0;
    } else if (std::optional<int32_t> small = smallInteger(value)) {
      *result = static_cast<uint32_t>(*small);
    } else {
      *result = value->Uint32Value(context).FromMaybe(0);
    }
  }
  return Status::ok();
}

class V8Engine final : public WasmEngine {
 public:
  V8Engine() : allocator_(v8::ArrayBuffer::Allocator::NewDefaultAllocator()) {
    initializeV8();
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator_.get();
    compileIsolate_ = v8::Isolate::New(params);
  }
  ~V8Engine() override { compileIsolate_->Dispose(); }

  std::string_view name() const override { return "v8"; }

  Result<CompiledModulePtr> compile(std::span<const uint8_t> bytes,
                                    const CompileOptions& options) override {
    Result<ModuleInfo> info = parseModule(bytes);
    if (!info.isOk()) return info.status();
    std::vector<uint8_t> capped;
    if (options.maxMemoryPages != 0) {
      Result<std::vector<uint8_t>> rewritten = capModuleMemory(bytes, options.maxMemoryPages);
      if (!rewritten.isOk()) return rewritten.status();
      capped = std::move(rewritten).value();
      bytes = capped;
    }
    std::lock_guard lock(compileMutex_);
    v8::Locker locker(compileIsolate_);
    v8::Isolate::Scope isolateScope(compileIsolate_);
    v8::HandleScope handles(compileIsolate_);
    v8::Local<v8::Context> context = v8::Context::New(compileIsolate_);
    v8::Context::Scope contextScope(context);
    v8::TryCatch tryCatch(compileIsolate_);
    v8::Local<v8::WasmModuleObject> module;
    if (!v8::WasmModuleObject::Compile(compileIsolate_, {bytes.data(), bytes.size()})
             .ToLocal(&module)) {
      std::string why = tryCatch.HasCaught() ? exceptionText(compileIsolate_, tryCatch.Exception())
                                             : "compilation failed";
      return errorStatus(StatusCode::kBadArgument, "not a valid Wasm module: " + why);
    }
    return CompiledModulePtr(std::make_shared<V8CompiledModule>(
        std::move(info).value(), module->GetCompiledModule(), options.maxMemoryPages));
  }

  std::shared_ptr<InstanceGroup> newGroup() override {
    return std::make_shared<V8Heap>(allocator_.get());
  }

  Result<std::unique_ptr<WasmInstance>> instantiate(const CompiledModulePtr& module,
                                                    const HostFunctionTable& hosts,
                                                    const InstanceOptions& options) override {
    auto v8Module = std::dynamic_pointer_cast<const V8CompiledModule>(module);
    if (!v8Module) return errorStatus(StatusCode::kBadArgument, "module was not compiled by V8");
    std::shared_ptr<V8Heap> heap;
    if (options.group) {
      heap = std::dynamic_pointer_cast<V8Heap>(options.group);
      if (!heap) return errorStatus(StatusCode::kBadArgument, "group was not made by V8");
    } else {
      heap = std::make_shared<V8Heap>(allocator_.get());
    }
    auto instance =
        std::make_unique<V8Instance>(std::move(v8Module), watchdog_, options, std::move(heap));
    Status linked = instance->link(hosts);
    if (!linked.isOk()) return linked;
    return std::unique_ptr<WasmInstance>(std::move(instance));
  }

 private:
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate* compileIsolate_;
  std::mutex compileMutex_;
  Watchdog watchdog_;
};

}  // namespace

std::unique_ptr<WasmEngine> createV8Engine() {
  return std::make_unique<V8Engine>();
}

}  // namespace wasmgate::runtime
