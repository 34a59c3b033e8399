// The WASI preview1 functions that wasi-libc and the Rust, Go and AssemblyScript SDKs import
// (section 7), registered under both wasi_snapshot_preview1 and wasi_unstable.
#include <sys/random.h>

#include <chrono>
#include <ctime>

#include "abi/hostcalls.h"
#include "abi/limits.h"

namespace wasmgate::abi {
namespace {

using runtime::ValType;
using Args = std::span<const uint64_t>;

// WASI errno values.
enum Errno : uint32_t {
  kSuccess = 0,
  kBadf = 8,
  kFault = 21,
  kInval = 28,
  kNoent = 44,
  kNosys = 52,
  kNotsup = 58,
  kSpipe = 70,
  kNotcapable = 76,
};

uint32_t u32(uint64_t v) {
  return static_cast<uint32_t>(v);
}
bool isStdio(uint64_t fd) {
  return fd == 1 || fd == 2;
}

PluginVm& vmOf(runtime::WasmInstance& wasm) {
  return *static_cast<PluginVm*>(wasm.embedderData());
}

uint32_t fdWrite(PluginVm& vm, Args a) {
  if (!isStdio(a[0])) return kBadf;
  std::string text;
  for (uint32_t i = 0; i < u32(a[2]); ++i) {
    auto buf = vm.wasm().readU32(u32(a[1]) + i * 8);
    auto len = vm.wasm().readU32(u32(a[1]) + i * 8 + 4);
    if (!buf || !len || static_cast<uint64_t>(u32(a[1])) + i * 8 + 8 > UINT32_MAX) return kFault;
    auto chunk = vm.wasm().readString(*buf, *len);
    if (!chunk) return kFault;
    if (text.size() < kMaxLogMessageBytes)
      text.append(chunk->substr(0, kMaxLogMessageBytes - text.size()));
  }
  if (!vm.wasm().writeU32(u32(a[3]), static_cast<uint32_t>(text.size()))) return kFault;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  vm.host().log(a[0] == 1 ? LogLevel::kInfo : LogLevel::kError, text);
  return kSuccess;
}

uint32_t fdPwrite(PluginVm& vm, Args a) {
  uint64_t shifted[4] = {a[0], a[1], a[2], a[4]};  // the offset (a[3]) means nothing for a log
  return fdWrite(vm, shifted);
}

uint32_t fdTell(PluginVm& vm, Args a) {
  if (!isStdio(a[0])) return kBadf;
  return vm.wasm().writeU64(u32(a[1]), 0) ? kSuccess : kFault;
}

uint32_t fdSeek(PluginVm&, Args a) {
  return a[0] <= 2 ? kSpipe : kBadf;
}

uint32_t fdFdstatGet(PluginVm& vm, Args a) {
  if (!isStdio(a[0])) return kBadf;
  auto stat = vm.wasm().range(u32(a[1]), 24);
  if (!stat) return kFault;
  std::fill(stat->begin(), stat->end(), 0);
  uint64_t rightsFdWrite = 64;
  std::memcpy(stat->data() + 8, &rightsFdWrite, 8);
  return kSuccess;
}

uint32_t stdioOnly(PluginVm&, Args a) {
  return isStdio(a[0]) ? kSuccess : kBadf;
}

uint32_t fdRenumber(PluginVm&, Args a) {
  return isStdio(a[0]) && isStdio(a[1]) ? kNotsup : kBadf;
}

uint32_t fdReaddir(PluginVm& vm, Args a) {
  if (!vm.wasm().writeU32(u32(a[4]), 0)) return kFault;
  return kBadf;
}

uint32_t pathReadlink(PluginVm& vm, Args a) {
  if (!vm.wasm().writeU32(u32(a[5]), 0)) return kFault;
  return kNotsup;
}

uint32_t environSizesGet(PluginVm& vm, Args a) {
  uint64_t bytes = 0;
  for (const auto& [k, v] : vm.spec().environment) bytes += k.size() + v.size() + 2;
  if (!vm.wasm().writeU32(u32(a[0]), static_cast<uint32_t>(vm.spec().environment.size())) ||
      !vm.wasm().writeU32(u32(a[1]), static_cast<uint32_t>(bytes))) {
    return kFault;
  }
  return kSuccess;
}

uint32_t environGet(PluginVm& vm, Args a) {
  uint32_t pointers = u32(a[0]);
  uint32_t buffer = u32(a[1]);
  for (const auto& [k, v] : vm.spec().environment) {
    std::string entry = k + "=" + v;
    entry.push_back('\0');
    if (!vm.wasm().writeU32(pointers, buffer) || !vm.wasm().write(buffer, entry)) return kFault;
    pointers += 4;
    buffer += static_cast<uint32_t>(entry.size());
  }
  return kSuccess;
}

uint32_t argsSizesGet(PluginVm& vm, Args a) {
  return vm.wasm().writeU32(u32(a[0]), 0) && vm.wasm().writeU32(u32(a[1]), 0) ? kSuccess : kFault;
}

uint32_t success(PluginVm&, Args) {
  return kSuccess;
}

uint32_t clockTimeGet(PluginVm& vm, Args a) {
  timespec ts;
  if (a[0] == 0) {
    clock_gettime(CLOCK_REALTIME, &ts);
  } else if (a[0] == 1) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
  } else {
    return kNotsup;
  }
  uint64_t ns =
      static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  return vm.wasm().writeU64(u32(a[2]), ns) ? kSuccess : kFault;
}

uint32_t clockResGet(PluginVm& vm, Args a) {
  if (a[0] > 1) return kNotsup;
  return vm.wasm().writeU64(u32(a[1]), 1) ? kSuccess : kFault;
}

uint32_t randomGet(PluginVm& vm, Args a) {
  if (u32(a[1]) > kMaxRandomGetBytes) return kInval;
  auto buf = vm.wasm().range(u32(a[0]), u32(a[1]));
  if (!buf) return kFault;
  size_t filled = 0;
  while (filled < buf->size()) {
    ssize_t n = getrandom(buf->data() + filled, buf->size() - filled, 0);
    if (n <= 0) return kInval;
    filled += static_cast<size_t>(n);
  }
  return kSuccess;
}

uint32_t pollOneoff(PluginVm& vm, Args a) {
  return vm.wasm().writeU32(u32(a[3]), 0) ? kSuccess : kFault;
}

uint32_t sockOutputsZeroed(PluginVm& vm, Args a, std::initializer_list<size_t> outputs) {
  for (size_t i : outputs) {
    if (!vm.wasm().writeU32(u32(a[i]), 0)) return kFault;
  }
  return kNotsup;
}
uint32_t sockAccept(PluginVm& vm, Args a) {
  return sockOutputsZeroed(vm, a, {2});
}
uint32_t sockRecv(PluginVm& vm, Args a) {
  return sockOutputsZeroed(vm, a, {4, 5});
}
uint32_t sockSend(PluginVm& vm, Args a) {
  return sockOutputsZeroed(vm, a, {4});
}

template <uint32_t kErrno>
uint32_t constant(PluginVm&, Args) {
  return kErrno;
}

using WasiCall = uint32_t (*)(PluginVm&, Args);

template <WasiCall F>
Status adapt(runtime::WasmInstance& wasm, std::span<const uint64_t> args, uint64_t& result) {
  PluginVm& vm = vmOf(wasm);
  result = hostcallAllowed(vm) ? F(vm, args) : kNotcapable;
  return Status::ok();
}

Status procExit(runtime::WasmInstance& wasm, std::span<const uint64_t> args, uint64_t&) {
  PluginVm& vm = vmOf(wasm);
  vm.recordExit(u32(args[0]));
  if (!vm.inStartup()) {
    vm.host().log(LogLevel::kError,
                  "plugin called proc_exit(" + std::to_string(u32(args[0])) + ")");
  }
  return errorStatus(StatusCode::kTrap, "proc_exit(" + std::to_string(u32(args[0])) + ")");
}

// Parameter lists by letter: 'i' is i32, 'I' is i64. Every function returns an i32 errno.
runtime::FuncType sig(std::string_view params) {
  runtime::FuncType type{{}, {ValType::kI32}};
  for (char c : params) type.params.push_back(c == 'I' ? ValType::kI64 : ValType::kI32);
  return type;
}

}  // namespace

void addWasiHostcalls(runtime::HostFunctionTable& table) {
  struct Entry {
    const char* name;
    const char* params;
    runtime::HostCallback callback;
  };
  static const Entry kEntries[] = {
      {"fd_write", "iiii", adapt<fdWrite>},
      {"fd_read", "iiii", adapt<constant<kNosys>>},
      {"fd_pwrite", "iiiIi", adapt<fdPwrite>},
      {"fd_pread", "iiiIi", adapt<constant<kNosys>>},
      {"fd_seek", "iIii", adapt<fdSeek>},
      {"fd_tell", "ii", adapt<fdTell>},
      {"fd_close", "i", adapt<constant<kSuccess>>},
      {"fd_fdstat_get", "ii", adapt<fdFdstatGet>},
      {"fd_fdstat_set_flags", "ii", adapt<constant<kNosys>>},
      {"fd_fdstat_set_rights", "iII", adapt<stdioOnly>},
      {"fd_allocate", "iII", adapt<stdioOnly>},
      {"fd_datasync", "i", adapt<stdioOnly>},
      {"fd_sync", "i", adapt<stdioOnly>},
      {"fd_filestat_set_size", "iI", adapt<stdioOnly>},
      {"fd_filestat_set_times", "iIIi", adapt<stdioOnly>},
      {"fd_advise", "iIIi", adapt<constant<kSuccess>>},
      {"fd_filestat_get", "ii", adapt<constant<kBadf>>},
      {"fd_prestat_get", "ii", adapt<constant<kBadf>>},
      {"fd_prestat_dir_name", "iii", adapt<constant<kNosys>>},
      {"fd_readdir", "iiiIi", adapt<fdReaddir>},
      {"fd_renumber", "ii", adapt<fdRenumber>},
      {"path_open", "iiiiiIIii", adapt<constant<kNoent>>},
      {"path_filestat_get", "iiiii", adapt<constant<kNotsup>>},
      {"path_create_directory", "iii", adapt<constant<kNotsup>>},
      {"path_filestat_set_times", "iiiiIIi", adapt<constant<kNotsup>>},
      {"path_link", "iiiiiii", adapt<constant<kNotsup>>},
      {"path_readlink", "iiiiii", adapt<pathReadlink>},
      {"path_remove_directory", "iii", adapt<constant<kNotsup>>},
      {"path_rename", "iiiiii", adapt<constant<kNotsup>>},
      {"path_symlink", "iiiii", adapt<constant<kNotsup>>},
      {"path_unlink_file", "iii", adapt<constant<kNotsup>>},
      {"environ_sizes_get", "ii", adapt<environSizesGet>},
      {"environ_get", "ii", adapt<environGet>},
      {"args_sizes_get", "ii", adapt<argsSizesGet>},
      {"args_get", "ii", adapt<success>},
      {"clock_time_get", "iIi", adapt<clockTimeGet>},
      {"clock_res_get", "ii", adapt<clockResGet>},
      {"random_get", "ii", adapt<randomGet>},
      {"sched_yield", "", adapt<success>},
      {"poll_oneoff", "iiii", adapt<pollOneoff>},
      {"sock_accept", "iii", adapt<sockAccept>},
      {"sock_recv", "iiiiii", adapt<sockRecv>},
      {"sock_send", "iiiii", adapt<sockSend>},
      {"sock_shutdown", "ii", adapt<constant<kNotsup>>},
  };
  for (const char* module : {"wasi_snapshot_preview1", "wasi_unstable"}) {
    for (const Entry& e : kEntries) table.add({module, e.name, sig(e.params), e.callback});
    table.add({module, "proc_exit", {{ValType::kI32}, {}}, procExit});
  }
}

}  // namespace wasmgate::abi
