// Section 7: every WASI preview1 function wasmgate registers, under wasi_snapshot_preview1 and
// wasi_unstable, plus the two Emscripten helpers. WASI calls answer errno values, not WasmResult.
#include <chrono>

#include "unit/abi/probe_vm.h"

namespace wasmgate::testing {
namespace {

using runtime::ValType;

// WASI errno values (section 7).
constexpr uint32_t kSuccess = 0, kBadf = 8, kFault = 21, kInval = 28, kNoent = 44, kNosys = 52,
                   kNotsup = 58, kSpipe = 70;
constexpr uint32_t kWrapPtr = 0xffffff00u;  // with a length of 0x200, ptr + len passes 2^32

// Calls call_<name> with parameter types by letter ('i' i32, 'I' i64) and an i32 result.
uint32_t wasi(ProbeVm& p, const std::string& name, std::string_view params,
              std::vector<uint64_t> args) {
  runtime::FuncType type{{}, {ValType::kI32}};
  for (char c : params) type.params.push_back(c == 'I' ? ValType::kI64 : ValType::kI32);
  auto r = p.vm->callExport("call_" + name, type, args, p.streamId, {});
  EXPECT_TRUE(r.isOk()) << name << ": " << r.status().toString();
  return r.isOk() ? static_cast<uint32_t>(*r) : 0xdeadbeef;
}

// Writes iovecs (u32 buf, u32 len) at 100 pointing at the given texts, stored from 1000 up.
uint32_t putIovecs(ProbeVm& p, const std::vector<std::string>& texts) {
  uint32_t data = 1000;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string iovec(8, '\0');
    uint32_t len = static_cast<uint32_t>(texts[i].size());
    std::memcpy(iovec.data(), &data, 4);
    std::memcpy(iovec.data() + 4, &len, 4);
    p.put(static_cast<uint32_t>(100 + i * 8), iovec);
    p.put(data, texts[i]);
    data += len;
  }
  return static_cast<uint32_t>(texts.size());
}

TEST(FdWriteTest, StdoutLogsAtInfoStderrAtError) {
  ProbeVm p;
  uint32_t n = putIovecs(p, {"hello ", "world\n"});
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, 100, n, 300}), kSuccess);
  EXPECT_EQ(p.u32At(300), 12u);  // every byte counts as written, the newline too
  ASSERT_FALSE(p.host.logs.empty());
  EXPECT_EQ(p.host.logs.back(),
            (std::pair<abi::LogLevel, std::string>{abi::LogLevel::kInfo, "hello world"}));
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {2, 100, n, 300}), kSuccess);
  EXPECT_EQ(p.host.logs.back(),
            (std::pair<abi::LogLevel, std::string>{abi::LogLevel::kError, "hello world"}));
}

TEST(FdWriteTest, DropsOnlyOneTrailingNewline) {
  ProbeVm p;
  uint32_t n = putIovecs(p, {"two\n\n"});
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, 100, n, 300}), kSuccess);
  EXPECT_EQ(p.host.logs.back().second, "two\n");
  EXPECT_EQ(p.u32At(300), 5u);
}

TEST(FdWriteTest, OtherDescriptorsAreBadf) {
  ProbeVm p;
  uint32_t n = putIovecs(p, {"x"});
  for (uint32_t fd : {0u, 3u, 0xffffffffu}) {
    EXPECT_EQ(wasi(p, "fd_write", "iiii", {fd, 100, n, 300}), kBadf) << fd;
  }
  EXPECT_TRUE(p.host.logs.empty());
}

TEST(FdWriteTest, BadMemoryIsFault) {
  ProbeVm p;
  uint32_t n = putIovecs(p, {"x"});
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, kWrapPtr, 0x40, 300}), kFault);         // iovec array
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, 0xfffffffcu, 1, 300}), kFault);         // iovec wraps
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, p.memorySize() - 4, 1, 300}), kFault);  // half an iovec
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, 100, n, p.memorySize() - 2}), kFault);  // nwritten slot
  p.put(100, std::string("\x00\xff\xff\xff\x00\x02\x00\x00", 8));  // buf 0xffffff00, len 0x200
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, 100, 1, 300}), kFault);
  EXPECT_TRUE(p.host.logs.empty());
}

TEST(FdWriteTest, NoIovecsWritesNothing) {
  ProbeVm p;
  p.put(300, std::string(4, '\x55'));
  EXPECT_EQ(wasi(p, "fd_write", "iiii", {1, 0, 0, 300}), kSuccess);
  EXPECT_EQ(p.u32At(300), 0u);
}

TEST(FdPwriteTest, LikeFdWriteIgnoringTheOffset) {
  ProbeVm p;
  uint32_t n = putIovecs(p, {"at offset\n"});
  EXPECT_EQ(wasi(p, "fd_pwrite", "iiiIi", {2, 100, n, 12345, 300}), kSuccess);
  EXPECT_EQ(p.host.logs.back(),
            (std::pair<abi::LogLevel, std::string>{abi::LogLevel::kError, "at offset"}));
  EXPECT_EQ(p.u32At(300), 10u);
  EXPECT_EQ(wasi(p, "fd_pwrite", "iiiIi", {5, 100, n, 0, 300}), kBadf);
  EXPECT_EQ(wasi(p, "fd_pwrite", "iiiIi", {1, kWrapPtr, 0x40, 0, 300}), kFault);
}

TEST(WasiFdTest, ReadsAreNotSupported) {
  ProbeVm p;
  EXPECT_EQ(wasi(p, "fd_read", "iiii", {0, 100, 1, 300}), kNosys);
  EXPECT_EQ(wasi(p, "fd_pread", "iiiIi", {0, 100, 1, 0, 300}), kNosys);
}

TEST(WasiFdTest, SeekTellAndClose) {
  ProbeVm p;
  EXPECT_EQ(wasi(p, "fd_seek", "iIii", {1, 0, 0, 300}), kSpipe);
  EXPECT_EQ(wasi(p, "fd_seek", "iIii", {9, 0, 0, 300}), kBadf);
  p.put(300, std::string(8, '\x44'));
  EXPECT_EQ(wasi(p, "fd_tell", "ii", {2, 300}), kSuccess);
  EXPECT_EQ(p.u64At(300), 0u);
  EXPECT_EQ(wasi(p, "fd_tell", "ii", {4, 300}), kBadf);
  EXPECT_EQ(wasi(p, "fd_tell", "ii", {1, p.memorySize() - 4}), kFault);
  EXPECT_EQ(wasi(p, "fd_close", "i", {1}), kSuccess);
  EXPECT_EQ(wasi(p, "fd_close", "i", {7}), kSuccess);
}

TEST(WasiFdTest, FdstatOfStdio) {
  ProbeVm p;
  p.put(300, std::string(24, '\x66'));
  EXPECT_EQ(wasi(p, "fd_fdstat_get", "ii", {1, 300}), kSuccess);
  EXPECT_EQ(p.u64At(300), 0u);   // filetype and flags
  EXPECT_EQ(p.u64At(308), 64u);  // fs_rights_base: fd_write
  EXPECT_EQ(p.u64At(316), 0u);   // fs_rights_inheriting
  EXPECT_EQ(wasi(p, "fd_fdstat_get", "ii", {0, 300}), kBadf);
  EXPECT_EQ(wasi(p, "fd_fdstat_get", "ii", {2, p.memorySize() - 16}), kFault);
  EXPECT_EQ(wasi(p, "fd_fdstat_set_flags", "ii", {1, 0}), kNosys);
}

TEST(WasiFdTest, StdioOnlyStubs) {
  ProbeVm p;
  struct Stub {
    const char* name;
    const char* params;
  };
  for (Stub s : {Stub{"fd_fdstat_set_rights", "iII"}, Stub{"fd_allocate", "iII"},
                 Stub{"fd_datasync", "i"}, Stub{"fd_sync", "i"}, Stub{"fd_filestat_set_size", "iI"},
                 Stub{"fd_filestat_set_times", "iIIi"}}) {
    std::vector<uint64_t> args(std::strlen(s.params), 0);
    for (uint32_t fd : {1u, 2u}) {
      args[0] = fd;
      EXPECT_EQ(wasi(p, s.name, s.params, args), kSuccess) << s.name << " " << fd;
    }
    for (uint32_t fd : {0u, 3u}) {
      args[0] = fd;
      EXPECT_EQ(wasi(p, s.name, s.params, args), kBadf) << s.name << " " << fd;
    }
  }
  EXPECT_EQ(wasi(p, "fd_advise", "iIIi", {9, 0, 0, 0}), kSuccess);
}

TEST(WasiFdTest, NoFilesAndNoPreopens) {
  ProbeVm p;
  EXPECT_EQ(wasi(p, "fd_filestat_get", "ii", {1, 300}), kBadf);
  for (uint32_t fd = 0; fd < 5; ++fd)
    EXPECT_EQ(wasi(p, "fd_prestat_get", "ii", {fd, 300}), kBadf) << fd;
  EXPECT_EQ(wasi(p, "fd_prestat_dir_name", "iii", {3, 300, 10}), kNosys);
  p.put(300, std::string(4, '\x11'));
  EXPECT_EQ(wasi(p, "fd_readdir", "iiiIi", {3, 400, 64, 0, 300}), kBadf);
  EXPECT_EQ(p.u32At(300), 0u);  // nothing used
  EXPECT_EQ(wasi(p, "fd_readdir", "iiiIi", {3, 400, 64, 0, 0xfffffffeu}), kFault);
  EXPECT_EQ(wasi(p, "fd_renumber", "ii", {1, 2}), kNotsup);
  EXPECT_EQ(wasi(p, "fd_renumber", "ii", {1, 3}), kBadf);
  EXPECT_EQ(wasi(p, "fd_renumber", "ii", {4, 2}), kBadf);
}

TEST(WasiPathTest, EveryPathCallIsRefused) {
  ProbeVm p;
  EXPECT_EQ(wasi(p, "path_open", "iiiiiIIii", {3, 0, 100, 4, 0, 0, 0, 0, 300}), kNoent);
  EXPECT_EQ(wasi(p, "path_filestat_get", "iiiii", {3, 0, 100, 4, 300}), kNotsup);
  EXPECT_EQ(wasi(p, "path_create_directory", "iii", {3, 100, 4}), kNotsup);
  EXPECT_EQ(wasi(p, "path_filestat_set_times", "iiiiIIi", {3, 0, 100, 4, 0, 0, 0}), kNotsup);
  EXPECT_EQ(wasi(p, "path_link", "iiiiiii", {3, 0, 100, 4, 3, 100, 4}), kNotsup);
  EXPECT_EQ(wasi(p, "path_remove_directory", "iii", {3, 100, 4}), kNotsup);
  EXPECT_EQ(wasi(p, "path_rename", "iiiiii", {3, 100, 4, 3, 100, 4}), kNotsup);
  EXPECT_EQ(wasi(p, "path_symlink", "iiiii", {100, 4, 3, 100, 4}), kNotsup);
  EXPECT_EQ(wasi(p, "path_unlink_file", "iii", {3, 100, 4}), kNotsup);
  p.put(300, std::string(4, '\x11'));
  EXPECT_EQ(wasi(p, "path_readlink", "iiiiii", {3, 100, 4, 400, 64, 300}), kNotsup);
  EXPECT_EQ(p.u32At(300), 0u);
  EXPECT_EQ(wasi(p, "path_readlink", "iiiiii", {3, 100, 4, 400, 64, p.memorySize()}), kFault);
}

TEST(WasiEnvironTest, OnlyThePluginsOwnVariables) {
  abi::PluginSpec spec;
  spec.environment = {{"MODE", "test"}, {"EMPTY", ""}};
  ProbeVm p(spec);
  EXPECT_EQ(wasi(p, "environ_sizes_get", "ii", {300, 304}), kSuccess);
  EXPECT_EQ(p.u32At(300), 2u);
  EXPECT_EQ(p.u32At(304), std::string("MODE=test\0EMPTY=\0", 17).size());
  EXPECT_EQ(wasi(p, "environ_get", "ii", {400, 500}), kSuccess);
  EXPECT_EQ(p.u32At(400), 500u);
  EXPECT_EQ(p.u32At(404), 510u);
  auto strings = p.vm->wasm().readString(500, 17);
  ASSERT_TRUE(strings.has_value());
  EXPECT_EQ(*strings, std::string("MODE=test\0EMPTY=\0", 17));
}

TEST(WasiEnvironTest, EmptyEnvironmentAndBadMemory) {
  ProbeVm p;
  p.put(300, std::string(8, '\x22'));
  EXPECT_EQ(wasi(p, "environ_sizes_get", "ii", {300, 304}), kSuccess);
  EXPECT_EQ(p.u32At(300), 0u);
  EXPECT_EQ(p.u32At(304), 0u);
  EXPECT_EQ(wasi(p, "environ_get", "ii", {0xffffffffu, 0xffffffffu}),
            kSuccess);  // nothing to write

  abi::PluginSpec spec;
  spec.environment = {{"K", "V"}};
  ProbeVm q(spec);
  EXPECT_EQ(wasi(q, "environ_sizes_get", "ii", {q.memorySize() - 2, 304}), kFault);
  EXPECT_EQ(wasi(q, "environ_sizes_get", "ii", {300, 0xfffffffdu}), kFault);
  EXPECT_EQ(wasi(q, "environ_get", "ii", {q.memorySize() - 3, 500}), kFault);
  EXPECT_EQ(wasi(q, "environ_get", "ii", {400, q.memorySize() - 3}),
            kFault);  // "K=V\0" does not fit
}

TEST(WasiArgsTest, NoArguments) {
  ProbeVm p;
  p.put(300, std::string(8, '\x33'));
  EXPECT_EQ(wasi(p, "args_sizes_get", "ii", {300, 304}), kSuccess);
  EXPECT_EQ(p.u32At(300), 0u);
  EXPECT_EQ(p.u32At(304), 0u);
  EXPECT_EQ(wasi(p, "args_sizes_get", "ii", {300, p.memorySize()}), kFault);
  p.put(400, std::string(4, '\x33'));
  EXPECT_EQ(wasi(p, "args_get", "ii", {400, 404}), kSuccess);
  EXPECT_EQ(p.u32At(400), 0x33333333u);  // writes nothing
}

TEST(WasiClockTest, RealtimeAndMonotonic) {
  ProbeVm p;
  auto now = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  uint64_t before = now();
  EXPECT_EQ(wasi(p, "clock_time_get", "iIi", {0, 1, 300}), kSuccess);
  uint64_t after = now();
  EXPECT_GE(p.u64At(300), before);
  EXPECT_LE(p.u64At(300), after);
  EXPECT_EQ(wasi(p, "clock_time_get", "iIi", {1, 0, 300}), kSuccess);
  uint64_t first = p.u64At(300);
  EXPECT_EQ(wasi(p, "clock_time_get", "iIi", {1, 0, 300}), kSuccess);
  EXPECT_GE(p.u64At(300), first);
  EXPECT_GT(first, 0u);
}

TEST(WasiClockTest, CpuClocksUnsupportedAndBadSlot) {
  ProbeVm p;
  for (uint32_t id : {2u, 3u, 4u, 0xffffffffu}) {
    EXPECT_EQ(wasi(p, "clock_time_get", "iIi", {id, 0, 300}), kNotsup) << id;
    EXPECT_EQ(wasi(p, "clock_res_get", "ii", {id, 300}), kNotsup) << id;
  }
  EXPECT_EQ(wasi(p, "clock_time_get", "iIi", {0, 0, p.memorySize() - 4}), kFault);
  EXPECT_EQ(wasi(p, "clock_time_get", "iIi", {1, 0, 0xfffffff8u}), kFault);
  p.put(300, std::string(8, '\x77'));
  EXPECT_EQ(wasi(p, "clock_res_get", "ii", {1, 300}), kSuccess);
  EXPECT_EQ(p.u64At(300), 1u);
  EXPECT_EQ(wasi(p, "clock_res_get", "ii", {0, p.memorySize() - 7}), kFault);
}

TEST(WasiRandomTest, FillsTheBuffer) {
  ProbeVm p;
  p.put(1000, std::string(64, '\0'));
  EXPECT_EQ(wasi(p, "random_get", "ii", {1000, 64}), kSuccess);
  auto bytes = p.vm->wasm().readString(1000, 64);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_NE(*bytes, std::string(64, '\0'));
  p.put(2000, std::string(64, '\0'));
  EXPECT_EQ(wasi(p, "random_get", "ii", {2000, 64}), kSuccess);
  EXPECT_NE(*p.vm->wasm().readString(2000, 64), *bytes);
}

TEST(WasiRandomTest, Limits) {
  ProbeVm p;
  EXPECT_EQ(wasi(p, "random_get", "ii", {0, 64 * 1024}), kSuccess);
  EXPECT_EQ(wasi(p, "random_get", "ii", {0, 64 * 1024 + 1}), kInval);
  EXPECT_EQ(wasi(p, "random_get", "ii", {0, 0xffffffffu}), kInval);
  EXPECT_EQ(wasi(p, "random_get", "ii", {100, 0}), kSuccess);
  EXPECT_EQ(wasi(p, "random_get", "ii", {kWrapPtr, 0x200}), kFault);
  EXPECT_EQ(wasi(p, "random_get", "ii", {p.memorySize() - 10, 11}), kFault);
}

TEST(WasiMiscTest, SchedYieldPollAndSockets) {
  ProbeVm p;
  EXPECT_EQ(wasi(p, "sched_yield", "", {}), kSuccess);
  p.put(300, std::string(4, '\x55'));
  EXPECT_EQ(wasi(p, "poll_oneoff", "iiii", {400, 500, 1, 300}), kSuccess);
  EXPECT_EQ(p.u32At(300), 0u);  // no events
  EXPECT_EQ(wasi(p, "poll_oneoff", "iiii", {400, 500, 1, p.memorySize() - 1}), kFault);

  p.put(300, std::string(12, '\x55'));
  EXPECT_EQ(wasi(p, "sock_accept", "iii", {3, 0, 300}), kNotsup);
  EXPECT_EQ(p.u32At(300), 0u);
  p.put(300, std::string(12, '\x55'));
  EXPECT_EQ(wasi(p, "sock_recv", "iiiiii", {3, 400, 1, 0, 304, 308}), kNotsup);
  EXPECT_EQ(p.u32At(304), 0u);
  EXPECT_EQ(p.u32At(308), 0u);
  EXPECT_EQ(p.u32At(300), 0x55555555u);
  EXPECT_EQ(wasi(p, "sock_send", "iiiii", {3, 400, 1, 0, 300}), kNotsup);
  EXPECT_EQ(p.u32At(300), 0u);
  EXPECT_EQ(wasi(p, "sock_shutdown", "ii", {3, 0}), kNotsup);
  EXPECT_EQ(wasi(p, "sock_accept", "iii", {3, 0, 0xffffffffu}), kFault);
  EXPECT_EQ(wasi(p, "sock_recv", "iiiiii", {3, 400, 1, 0, 304, p.memorySize()}), kFault);
  EXPECT_EQ(wasi(p, "sock_send", "iiiii", {3, 400, 1, 0, kWrapPtr}), kFault);
}

TEST(WasiProcExitTest, TrapsTheVmAndLogs) {
  ProbeVm p;
  runtime::FuncType type{{ValType::kI32}, {}};
  auto r = p.vm->callExport("call_proc_exit", type, std::vector<uint64_t>{3}, p.streamId, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kTrap);
  EXPECT_NE(r.status().message().find("proc_exit(3)"), std::string::npos) << r.status().toString();
  EXPECT_TRUE(p.vm->failed());
  EXPECT_TRUE(p.host.logged("plugin called proc_exit(3)"));
  // The failed VM runs nothing more.
  auto again = p.vm->onRequestHeaders(p.streamId, 0, true);
  EXPECT_FALSE(again.isOk());
}

TEST(WasiProcExitTest, ExitZeroAfterStartIsACrashToo) {
  ProbeVm p;
  runtime::FuncType type{{ValType::kI32}, {}};
  auto r =
      p.vm->callExport("call_unstable_proc_exit", type, std::vector<uint64_t>{0}, p.streamId, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_TRUE(p.vm->failed());
}

// The same function under wasi_unstable answers exactly as under wasi_snapshot_preview1.
TEST(WasiUnstableTest, AnswersLikePreview1) {
  abi::PluginSpec spec;
  spec.environment = {{"A", "B"}};
  ProbeVm p(spec);
  uint32_t n = putIovecs(p, {"x"});
  struct Case {
    const char* name;
    const char* params;
    std::vector<uint64_t> args;
  };
  const Case cases[] = {
      {"fd_write", "iiii", {1, 100, n, 300}},
      {"fd_write", "iiii", {7, 100, n, 300}},
      {"fd_write", "iiii", {1, kWrapPtr, 64, 300}},
      {"fd_read", "iiii", {0, 100, 1, 300}},
      {"fd_pwrite", "iiiIi", {1, 100, n, 0, 300}},
      {"fd_pread", "iiiIi", {0, 100, 1, 0, 300}},
      {"fd_seek", "iIii", {1, 0, 0, 300}},
      {"fd_tell", "ii", {1, 300}},
      {"fd_close", "i", {1}},
      {"fd_fdstat_get", "ii", {1, 300}},
      {"fd_fdstat_get", "ii", {5, 300}},
      {"fd_fdstat_set_flags", "ii", {1, 0}},
      {"fd_fdstat_set_rights", "iII", {1, 0, 0}},
      {"fd_allocate", "iII", {5, 0, 0}},
      {"fd_datasync", "i", {2}},
      {"fd_sync", "i", {3}},
      {"fd_filestat_set_size", "iI", {1, 0}},
      {"fd_filestat_set_times", "iIIi", {4, 0, 0, 0}},
      {"fd_advise", "iIIi", {1, 0, 0, 0}},
      {"fd_filestat_get", "ii", {1, 300}},
      {"fd_prestat_get", "ii", {3, 300}},
      {"fd_prestat_dir_name", "iii", {3, 300, 1}},
      {"fd_readdir", "iiiIi", {3, 400, 1, 0, 300}},
      {"fd_renumber", "ii", {1, 2}},
      {"path_open", "iiiiiIIii", {3, 0, 100, 1, 0, 0, 0, 0, 300}},
      {"path_filestat_get", "iiiii", {3, 0, 100, 1, 300}},
      {"path_create_directory", "iii", {3, 100, 1}},
      {"path_filestat_set_times", "iiiiIIi", {3, 0, 100, 1, 0, 0, 0}},
      {"path_link", "iiiiiii", {3, 0, 100, 1, 3, 100, 1}},
      {"path_readlink", "iiiiii", {3, 100, 1, 400, 1, 300}},
      {"path_remove_directory", "iii", {3, 100, 1}},
      {"path_rename", "iiiiii", {3, 100, 1, 3, 100, 1}},
      {"path_symlink", "iiiii", {100, 1, 3, 100, 1}},
      {"path_unlink_file", "iii", {3, 100, 1}},
      {"environ_sizes_get", "ii", {300, 304}},
      {"environ_get", "ii", {400, 500}},
      {"environ_get", "ii", {0xffffffffu, 500}},
      {"args_sizes_get", "ii", {300, 304}},
      {"args_get", "ii", {300, 304}},
      {"clock_time_get", "iIi", {1, 0, 300}},
      {"clock_time_get", "iIi", {2, 0, 300}},
      {"clock_res_get", "ii", {0, 300}},
      {"random_get", "ii", {300, 8}},
      {"random_get", "ii", {300, 0x20000}},
      {"sched_yield", "", {}},
      {"poll_oneoff", "iiii", {400, 500, 1, 300}},
      {"sock_accept", "iii", {3, 0, 300}},
      {"sock_recv", "iiiiii", {3, 400, 1, 0, 300, 304}},
      {"sock_send", "iiiii", {3, 400, 1, 0, 300}},
      {"sock_shutdown", "ii", {3, 0}},
  };
  for (const Case& c : cases) {
    uint32_t preview1 = wasi(p, c.name, c.params, c.args);
    EXPECT_EQ(wasi(p, std::string("unstable_") + c.name, c.params, c.args), preview1) << c.name;
  }
  EXPECT_EQ(wasi(p, "unstable_fd_write", "iiii", {2, 100, n, 300}), kSuccess);
  EXPECT_EQ(p.host.logs.back(),
            (std::pair<abi::LogLevel, std::string>{abi::LogLevel::kError, "x"}));
}

TEST(EmscriptenImportsTest, NotifyMemoryGrowthAndPthreadEqual) {
  ProbeVm p;
  runtime::FuncType notify{{ValType::kI32}, {}};
  auto r = p.vm->callExport("call_emscripten_notify_memory_growth", notify,
                            std::vector<uint64_t>{0}, p.streamId, {});
  EXPECT_TRUE(r.isOk());
  EXPECT_FALSE(p.vm->failed());
  EXPECT_EQ(p.call("pthread_equal", {7, 7}), 1u);
  EXPECT_EQ(p.call("pthread_equal", {7, 8}), 0u);
  EXPECT_EQ(p.call("pthread_equal", {0xffffffffu, 0xffffffffu}), 1u);
}

}  // namespace
}  // namespace wasmgate::testing
