// Fuzzes every Proxy-Wasm and WASI hostcall (src/abi/) through the hostcall_probe fixture: one
// live PluginVm with fake hosts, whose call_<hostcall> exports forward arbitrary arguments.
//
// Input, read front to back (missing bytes read as 0):
//   byte     flags: bits 0-1 the probe's allocator (0 normal, 1 returns 0, 2 returns a block past
//            the end of memory, 3 normal), bit 2 response headers received
//   u16 LE   blob length (at most 4096), then the blob, written to guest memory at 0
//   then up to 64 calls, each:
//     byte   which hostcall (index into kHostcalls), or 0xa7 0x5c: proc_exit, 0xa7 0x5d: a trap
//            inside the probe's allocator
//     byte   context: low 2 bits 0 stream, 1 root, 2 the VM context 0, 3 a u32 from the input;
//            the rest picks the callback the call pretends to run in (see frameFor)
//     per parameter: a selector byte, then what it needs (see i32Arg / i64Arg); one i32 choice
//     reads a u32 from guest memory, so an input can pass on a token or id a previous call wrote
//
// Acceptable outcomes: a proxy_* call answers a WasmResult (0 to 12), a WASI call a WASI errno;
// or the guest traps (proc_exit, a trap in its allocator) and the VM is failed, which recreates
// it. Anything else, and any ASan/UBSan report, is a finding. WASMGATE_FUZZ_TRACE=1 prints each
// call with its arguments and answer (to see what an input does).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "abi/plugin_vm.h"
#include "fakes/fake_hosts.h"
#include "runtime/v8/v8_engine.h"

#ifndef HOSTCALL_PROBE_WASM
#define HOSTCALL_PROBE_WASM "hostcall_probe.wasm"  // the build defines the compiled fixture's path
#endif

namespace wasmgate::fuzz {
namespace {

using runtime::ValType;

enum class Answer { kWasmResult, kErrno, kAny, kNone };

struct Hostcall {
  const char* name;    // the probe exports call_<name>
  const char* params;  // 'i' i32, 'I' i64
  Answer answer;
};

constexpr Answer R = Answer::kWasmResult;
constexpr Answer E = Answer::kErrno;

constexpr Hostcall kHostcalls[] = {
    {"proxy_log", "iii", R},
    {"proxy_get_log_level", "i", R},
    {"proxy_get_current_time_nanoseconds", "i", R},
    {"proxy_set_tick_period_milliseconds", "i", R},
    {"proxy_get_configuration", "ii", R},
    {"proxy_get_status", "iii", R},
    {"proxy_get_property", "iiii", R},
    {"proxy_set_property", "iiii", R},
    {"proxy_get_header_map_value", "iiiii", R},
    {"proxy_add_header_map_value", "iiiii", R},
    {"proxy_replace_header_map_value", "iiiii", R},
    {"proxy_remove_header_map_value", "iii", R},
    {"proxy_get_header_map_pairs", "iii", R},
    {"proxy_set_header_map_pairs", "iii", R},
    {"proxy_get_header_map_size", "ii", R},
    {"proxy_get_buffer_bytes", "iiiii", R},
    {"proxy_get_buffer_status", "iii", R},
    {"proxy_set_buffer_bytes", "iiiii", R},
    {"proxy_continue_stream", "i", R},
    {"proxy_close_stream", "i", R},
    {"proxy_continue_request", "", R},
    {"proxy_continue_response", "", R},
    {"proxy_clear_route_cache", "", R},
    {"proxy_send_local_response", "iiiiiiii", R},
    {"proxy_http_call", "iiiiiiiiii", R},
    {"proxy_grpc_call", "iiiiiiiiiiii", R},
    {"proxy_grpc_stream", "iiiiiiiii", R},
    {"proxy_grpc_send", "iiii", R},
    {"proxy_grpc_close", "i", R},
    {"proxy_grpc_cancel", "i", R},
    {"proxy_get_shared_data", "iiiii", R},
    {"proxy_set_shared_data", "iiiii", R},
    {"proxy_register_shared_queue", "iii", R},
    {"proxy_resolve_shared_queue", "iiiii", R},
    {"proxy_enqueue_shared_queue", "iii", R},
    {"proxy_dequeue_shared_queue", "iii", R},
    {"proxy_define_metric", "iiii", R},
    {"proxy_increment_metric", "iI", R},
    {"proxy_record_metric", "iI", R},
    {"proxy_get_metric", "ii", R},
    {"proxy_set_effective_context", "i", R},
    {"proxy_done", "", R},
    {"proxy_call_foreign_function", "iiiiii", R},
    {"emscripten_notify_memory_growth", "i", Answer::kNone},
    {"pthread_equal", "ii", Answer::kAny},
    {"fd_write", "iiii", E},
    {"fd_read", "iiii", E},
    {"fd_pwrite", "iiiIi", E},
    {"fd_pread", "iiiIi", E},
    {"fd_seek", "iIii", E},
    {"fd_tell", "ii", E},
    {"fd_close", "i", E},
    {"fd_fdstat_get", "ii", E},
    {"fd_fdstat_set_flags", "ii", E},
    {"fd_fdstat_set_rights", "iII", E},
    {"fd_allocate", "iII", E},
    {"fd_datasync", "i", E},
    {"fd_sync", "i", E},
    {"fd_filestat_set_size", "iI", E},
    {"fd_filestat_set_times", "iIIi", E},
    {"fd_advise", "iIIi", E},
    {"fd_filestat_get", "ii", E},
    {"fd_prestat_get", "ii", E},
    {"fd_prestat_dir_name", "iii", E},
    {"fd_readdir", "iiiIi", E},
    {"fd_renumber", "ii", E},
    {"path_open", "iiiiiIIii", E},
    {"path_filestat_get", "iiiii", E},
    {"path_create_directory", "iii", E},
    {"path_filestat_set_times", "iiiiIIi", E},
    {"path_link", "iiiiiii", E},
    {"path_readlink", "iiiiii", E},
    {"path_remove_directory", "iii", E},
    {"path_rename", "iiiiii", E},
    {"path_symlink", "iiiii", E},
    {"path_unlink_file", "iii", E},
    {"environ_sizes_get", "ii", E},
    {"environ_get", "ii", E},
    {"args_sizes_get", "ii", E},
    {"args_get", "ii", E},
    {"clock_time_get", "iIi", E},
    {"clock_res_get", "ii", E},
    {"random_get", "ii", E},
    {"sched_yield", "", E},
    {"poll_oneoff", "iiii", E},
    {"sock_accept", "iii", E},
    {"sock_recv", "iiiiii", E},
    {"sock_send", "iiiii", E},
    {"sock_shutdown", "ii", E},
    {"unstable_fd_write", "iiii", E},
    {"unstable_environ_get", "ii", E},
    {"unstable_random_get", "ii", E},
};
constexpr size_t kHostcallCount = std::size(kHostcalls);
constexpr size_t kMaxCallsPerInput = 64;
constexpr size_t kMaxBlob = 4096;
constexpr uint64_t kInputsPerVm = 2000;  // a fresh VM and host now and then bound their growth
// 0xa7 0x5c: proc_exit; 0xa7 0x5d: a trap inside malloc. Two unremarkable bytes, because each
// failure costs a new VM (a new V8 isolate, milliseconds): with one byte, or with 0xff, mutations
// (and dictionary words like 0xffffffff) hit it so often that recreating VMs took most of the time.
constexpr uint8_t kTrapPrefix[2] = {0xa7, 0x5c};

void check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "hostcalls_fuzz: %s\n", what.c_str());
  std::abort();
}

// Reads the input front to back; past the end everything reads as zero.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint8_t peek() const { return pos_ < size_ ? data_[pos_] : 0; }
  // Little-endian; each part read in its own statement, since operands of | are unsequenced.
  uint32_t u16() {
    uint32_t low = byte();
    return low | uint32_t{byte()} << 8;
  }
  uint32_t u32() {
    uint32_t low = u16();
    return low | u16() << 16;
  }
  uint64_t u64() {
    uint64_t low = u32();
    return low | uint64_t{u32()} << 32;
  }
  std::string_view bytes(size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

std::vector<uint8_t> readProbe() {
  const char* path = std::getenv("WASMGATE_PROBE_WASM");
  std::string file = path ? path : HOSTCALL_PROBE_WASM;
  std::ifstream in(file, std::ios::binary);
  check(in.good(), "cannot read the probe fixture " + file + " (set WASMGATE_PROBE_WASM)");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What the callbacks a call pretends to run in may see; lives as long as the process.
struct Frames {
  abi::HttpCallResponse response{
      {{":status", "200"}, {"content-type", "text/plain"}}, "callout body", {{"grpc-status", "0"}}};
  abi::Headers grpcMetadata{{"grpc-encoding", "identity"}, {"x-md", "1"}};
};

abi::PluginVm::Frame frameFor(uint8_t selector, const Frames& f) {
  abi::PluginVm::Frame frame;
  switch (selector % 9) {
    case 1:
      frame.callback = abi::Callback::kOnConfigure;
      frame.configuration = "{\"plugin\":\"configuration\"}";
      break;
    case 2:
      frame.callback = abi::Callback::kOnHttpCallResponse;
      frame.httpCallResponse = &f.response;
      break;
    case 3:  // a failed callout
      frame.callback = abi::Callback::kOnHttpCallResponse;
      frame.statusCode = static_cast<uint32_t>(abi::WasmResult::kBrokenConnection);
      frame.statusMessage = "reset";
      break;
    case 4:
      frame.callback = abi::Callback::kOnGrpcReceive;
      frame.grpcMessage = "grpc message bytes";
      break;
    case 5:
      frame.callback = abi::Callback::kOnGrpcReceiveInitialMetadata;
      frame.grpcMetadata = &f.grpcMetadata;
      break;
    case 6:
      frame.callback = abi::Callback::kOnGrpcClose;
      frame.statusCode = 14;
      frame.statusMessage = "unavailable";
      break;
    case 7:
      frame.callback = abi::Callback::kOnForeignFunction;
      frame.callData = "foreign arguments";
      break;
    case 8:
      frame.callback = abi::Callback::kOnLog;
      break;
    default:
      break;
  }
  return frame;
}

class Harness {
 public:
  Harness() : bytes_(readProbe()), engine_(runtime::createV8Engine()) {
    auto module = abi::PluginModule::load(*engine_, bytes_, abi::VmLimits{});
    check(module.isOk(), "probe does not load: " + module.status().toString());
    module_ = std::move(module).value();
    recreate();
  }

  void run(Input& in) {
    if (++inputs_ % kInputsPerVm == 0) recreate();
    uint8_t flags = in.byte();
    std::string_view blob = in.bytes(std::min<size_t>(in.u16(), kMaxBlob));
    prepare(flags, blob);
    for (size_t i = 0; i < kMaxCallsPerInput && !in.empty(); ++i) {
      uint8_t which = in.byte();
      if (which == kTrapPrefix[0] &&
          (in.peek() == kTrapPrefix[1] || in.peek() == kTrapPrefix[1] + 1)) {
        trap(in.byte());
      } else {
        call(kHostcalls[which % kHostcallCount], in);
      }
      if (vm_->failed()) {
        if (trace_) std::fprintf(stderr, "VM failed: %s\n", vm_->failure().toString().c_str());
        recreate();
        prepare(flags, blob);
      }
    }
  }

 private:
  void recreate() {
    vm_.reset();  // first: it unregisters its queue notifiers, which point at the host
    host_ = std::make_unique<testing::FakePluginHost>();
    abi::PluginSpec spec;
    spec.name = "fuzzed";
    spec.rootId = "fuzz_root";
    spec.vmId = "hostcalls_fuzz";
    spec.vmConfiguration = "vm configuration";
    spec.environment = {{"FUZZ", "1"}, {"EMPTY", ""}};
    auto created = abi::PluginVm::create(module_, spec, *host_);
    check(created.isOk(), "cannot create the VM: " + created.status().toString());
    vm_ = std::move(created).value();
    Status started = vm_->start();
    check(started.isOk(), "cannot start the VM: " + started.toString());
    auto id = vm_->createStream(stream_);
    check(id.isOk(), "cannot create a stream: " + id.status().toString());
    streamId_ = *id;
  }

  // The state every input starts from (and restarts from in a recreated VM).
  void prepare(uint8_t flags, std::string_view blob) {
    host_->logs.clear();
    host_->httpCalls.clear();
    host_->grpcOps.clear();
    host_->queueReady.clear();
    stream_.continued.clear();
    stream_.closed.clear();
    stream_.localResponses.clear();
    abi::StreamData& d = stream_.streamData;
    d = abi::StreamData();
    d.requestHeaders = {{":method", "GET"},
                        {":path", "/a/b?x=1"},
                        {":authority", "example.com"},
                        {"accept", "a"},
                        {"accept", "b"}};
    d.requestTrailers = {{"x-trailer", "t"}};
    d.responseHeaders = {{":status", "200"}, {"grpc-status", "0"}};
    d.requestBody = "request body bytes";
    d.responseBody = "response body";
    d.downstreamData = "downstream";
    d.upstreamData = "upstream";
    d.responseHeadersReceived = (flags & 4) != 0;
    static constexpr uint32_t kMallocModes[] = {0, 1, 3, 0};
    callVoid("reset_heap", {}, {});
    callVoid("set_malloc_mode", {ValType::kI32}, {kMallocModes[flags & 3]});
    check(vm_->wasm().write(0, blob), "cannot write the blob");
  }

  void callVoid(const char* name, std::vector<ValType> params, std::vector<uint64_t> args) {
    auto r = vm_->callExport(name, runtime::FuncType{std::move(params), {}}, args, streamId_, {});
    check(r.isOk(), std::string(name) + " failed: " + r.status().toString());
  }

  uint32_t i32Arg(Input& in) {
    uint32_t memory = static_cast<uint32_t>(vm_->wasm().memory().size());
    static constexpr uint32_t kSpecial[] = {1, 2, 3, 4,          5,           6,
                                            7, 8, 9, 0x7fffffff, 0x80000000u, 0x10000};
    switch (in.byte() % 8) {
      case 0:
        return 0;
      case 1:
        return in.byte();
      case 2:
        return in.u16();  // inside the first page, where the blob is
      case 3:
        return memory - in.byte();
      case 4:
        return 0xffffffffu - in.byte();  // ptr + len wraps past 2^32
      case 5:
        return memory + in.byte();
      case 6:
        return in.u32();
      default: {
        uint8_t pick = in.byte();
        if (pick == 0) return streamId_;
        if (pick == 1) return vm_->rootContextId();
        if (pick == 2)
          return vm_->wasm().readU32(in.u16()).value_or(0);  // e.g. a token the host wrote
        return kSpecial[pick % std::size(kSpecial)];
      }
    }
  }

  uint64_t i64Arg(Input& in) {
    switch (in.byte() % 6) {
      case 0:
        return 0;
      case 1:
        return in.byte();
      case 2:
        return static_cast<uint64_t>(-static_cast<int64_t>(in.byte()));
      case 3:
        return static_cast<uint64_t>(INT64_MIN);
      case 4:
        return static_cast<uint64_t>(INT64_MAX);
      default:
        return in.u64();
    }
  }

  uint32_t contextFor(uint8_t selector, Input& in) {
    switch (selector & 3) {
      case 0:
        return streamId_;
      case 1:
        return vm_->rootContextId();
      case 2:
        return 0;
      default:
        return in.u32();
    }
  }

  void call(const Hostcall& h, Input& in) {
    uint8_t selector = in.byte();
    uint32_t context = contextFor(selector, in);
    runtime::FuncType type;
    std::vector<uint64_t> args;
    for (const char* p = h.params; *p; ++p) {
      type.params.push_back(*p == 'I' ? ValType::kI64 : ValType::kI32);
      args.push_back(*p == 'I' ? i64Arg(in) : i32Arg(in));
    }
    if (h.answer != Answer::kNone) type.results.push_back(ValType::kI32);
    auto r = vm_->callExport(std::string("call_") + h.name, type, args, context,
                             frameFor(selector >> 2, frames_));
    if (trace_) {
      std::fprintf(stderr, "%s(", h.name);
      for (uint64_t a : args) std::fprintf(stderr, " %#llx", static_cast<unsigned long long>(a));
      std::fprintf(stderr, " ) in context %u, frame %d: %s\n", context, (selector >> 2) % 9,
                   r.isOk() ? std::to_string(*r).c_str() : r.status().toString().c_str());
    }
    if (!r.isOk()) {
      // Only the guest itself may fail here, and then the VM is failed.
      check(r.status().code() == StatusCode::kTrap ||
                r.status().code() == StatusCode::kDeadlineExceeded ||
                r.status().code() == StatusCode::kMemoryCapExceeded,
            std::string(h.name) + ": unexpected failure " + r.status().toString());
      check(vm_->failed(), std::string(h.name) + ": call failed but the VM is not failed");
      return;
    }
    uint64_t v = *r;
    switch (h.answer) {
      case Answer::kWasmResult:
        check(v <= static_cast<uint32_t>(abi::WasmResult::kUnimplemented),
              std::string(h.name) + " answered " + std::to_string(v));
        break;
      case Answer::kErrno: {
        static constexpr uint64_t kErrnos[] = {0, 8, 20, 21, 28, 44, 52, 54, 58, 70, 76};
        check(std::find(std::begin(kErrnos), std::end(kErrnos), v) != std::end(kErrnos),
              std::string(h.name) + " answered errno " + std::to_string(v));
        break;
      }
      case Answer::kAny:
      case Answer::kNone:
        break;
    }
  }

  // The two ways the probe can fail itself: proc_exit, or a trap inside its allocator while a
  // hostcall hands it data. Either must fail the VM, never the host.
  void trap(uint8_t how) {
    if (trace_)
      std::fprintf(stderr, "%s\n", how == kTrapPrefix[1] ? "proc_exit" : "trap in malloc");
    if (how == kTrapPrefix[1]) {
      auto r = vm_->callExport("call_proc_exit", runtime::FuncType{{ValType::kI32}, {}},
                               std::vector<uint64_t>{how}, streamId_, {});
      check(!r.isOk() && vm_->failed(), "proc_exit did not fail the VM");
      return;
    }
    // plugin_name ("fuzzed") is not empty, so the host has to allocate for it.
    check(vm_->wasm().write(kMaxBlob, "plugin_name"), "cannot write the property name");
    callVoid("set_malloc_mode", {ValType::kI32}, {2});
    auto r =
        vm_->callExport("call_proxy_get_property",
                        runtime::FuncType{std::vector<ValType>(4, ValType::kI32), {ValType::kI32}},
                        std::vector<uint64_t>{kMaxBlob, 11, 100, 104}, streamId_, {});
    check(!r.isOk() && vm_->failed(), "a trapping allocator did not fail the VM");
  }

  std::vector<uint8_t> bytes_;
  std::unique_ptr<runtime::WasmEngine> engine_;
  std::shared_ptr<const abi::PluginModule> module_;
  std::unique_ptr<testing::FakePluginHost> host_;
  testing::FakeStream stream_;
  std::unique_ptr<abi::PluginVm> vm_;
  uint32_t streamId_ = 0;
  uint64_t inputs_ = 0;
  Frames frames_;
  bool trace_ = std::getenv("WASMGATE_FUZZ_TRACE") != nullptr;  // prints every call and its answer
};

}  // namespace
}  // namespace wasmgate::fuzz

namespace {
wasmgate::fuzz::Harness* harness = nullptr;  // lives until exit
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  harness = new wasmgate::fuzz::Harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wasmgate::fuzz::Input in(data, size);
  harness->run(in);
  return 0;
}

// V8 keeps pointers to some of its malloc'd bookkeeping (remembered-set slot sets) only inside
// its own mmap'd heap pages, which LeakSanitizer does not scan: allocations made inside libnode
// are reported as leaks while their isolate is alive. Leaks from wasmgate's own frames still count.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libnode.so\n";
}
