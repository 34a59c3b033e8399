// A worker's plugins: HeaderBatcher and WorkerPlugin, on a real worker (not started: the tests
// turn its event loop) and a real plugin VM of tests/fixtures/wasm/sdk_header_batch.wat, whose
// batch entries add "x-ctx: <context id>" to their stream's headers; clients stand in for HTTP
// streams.
#include "proxy/header_batch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "abi/pairs.h"
#include "abi/shared_state.h"
#include "fakes/fake_hosts.h"
#include "proxy/plugin_chain.h"
#include "proxy/worker.h"
#include "runtime/v8/v8_engine.h"

namespace wasmgate::proxy {
namespace {

using testing::FakeStream;

runtime::WasmEngine& engine() {
  static std::unique_ptr<runtime::WasmEngine> instance = runtime::createV8Engine();
  return *instance;
}

std::shared_ptr<const abi::PluginModule> batchModule() {
  std::ifstream in(std::string(WASM_FIXTURE_DIR) + "/sdk_header_batch.wasm", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  auto module = abi::PluginModule::load(engine(), bytes, abi::VmLimits{});
  EXPECT_TRUE(module.isOk()) << module.status().toString();
  return module.isOk() ? *module : nullptr;
}

// What a stream hears from the batcher.
class Client final : public BatchedHeadersClient {
 public:
  void startBatchedHeaders() override { ++started; }
  void finishBatchedHeaders(Result<abi::HeadersStatus> result, bool callbackRan) override {
    answers.push_back(std::move(result));
    ran.push_back(callbackRan);
    if (onFinish) onFinish();
  }

  int started = 0;
  std::vector<Result<abi::HeadersStatus>> answers;
  std::vector<bool> ran;
  std::function<void()> onFinish;
};

class WorkerWithPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    worker.setVmGroup(engine().newGroup());
    loaded->config.name = "batch";
    loaded->config.vmId = "worker_plugin_test";
    loaded->module = batchModule();
    ASSERT_TRUE(loaded->module);
    plugin = std::make_shared<WorkerPlugin>(worker, loaded);
    Status started = plugin->start();
    ASSERT_TRUE(started.isOk()) << started.toString();
    ASSERT_TRUE(plugin->vm()->batchesHeaderCallbacks());
  }

  // A stream context in the plugin and a request-header call for it, queued for `client`.
  uint32_t queue(FakeStream& stream, Client& client) {
    auto context = plugin->vm()->createStream(stream);
    EXPECT_TRUE(context.isOk());
    worker.headerBatcher().add(*plugin, plugin->generation(), {*context, false, 0, false}, client);
    return *context;
  }

  // One pass of the worker's event loop: the batch runs after the pass's other callbacks.
  void turn() { event_base_loop(worker.loop().base(), EVLOOP_ONCE | EVLOOP_NONBLOCK); }

  static std::string added(const FakeStream& stream) {
    const std::string* value = abi::findHeader(stream.streamData.requestHeaders, "x-ctx");
    return value ? *value : "(none)";
  }

  uint64_t batches() const { return loaded->stats.headerBatches.load(); }
  uint64_t batchedCallbacks() const { return loaded->stats.batchedHeaderCallbacks.load(); }

  ServerConfig config;
  std::map<std::string, ListenerStats> listenerStats;
  Worker worker{0, config, listenerStats};
  std::shared_ptr<LoadedPlugin> loaded = std::make_shared<LoadedPlugin>();
  std::shared_ptr<WorkerPlugin> plugin;
};

class HeaderBatcherTest : public WorkerWithPlugin {};
class WorkerPluginTest : public WorkerWithPlugin {};

TEST_F(HeaderBatcherTest, CallsOfOnePassRunTogetherAndEachClientGetsItsAnswer) {
  FakeStream streams[2];
  Client clients[2];
  uint32_t a = queue(streams[0], clients[0]);
  uint32_t b = queue(streams[1], clients[1]);
  EXPECT_TRUE(clients[0].answers.empty());  // nothing runs before the pass
  turn();
  for (Client& client : clients) {
    EXPECT_EQ(client.started, 1);
    ASSERT_EQ(client.answers.size(), 1u);
    ASSERT_TRUE(client.answers[0].isOk());
    EXPECT_EQ(*client.answers[0], abi::HeadersStatus::kContinue);
  }
  EXPECT_EQ(added(streams[0]), std::to_string(a));
  EXPECT_EQ(added(streams[1]), std::to_string(b));
  EXPECT_EQ(batches(), 1u);
  EXPECT_EQ(batchedCallbacks(), 2u);
}

TEST_F(HeaderBatcherTest, ACancelledCallIsNeitherRunNorAnswered) {
  FakeStream streams[3];
  Client clients[3];
  for (int i = 0; i < 3; ++i) queue(streams[i], clients[i]);
  worker.headerBatcher().cancel(clients[1]);
  turn();
  EXPECT_EQ(clients[1].started, 0);
  EXPECT_TRUE(clients[1].answers.empty());
  EXPECT_EQ(added(streams[1]), "(none)");
  EXPECT_EQ(clients[0].answers.size(), 1u);
  EXPECT_EQ(clients[2].answers.size(), 1u);
  EXPECT_EQ(batchedCallbacks(), 2u);
}

TEST_F(HeaderBatcherTest, AClientCancelledWhileItsBatchIsAnsweredHearsNothing) {
  FakeStream streams[2];
  Client clients[2];
  queue(streams[0], clients[0]);
  queue(streams[1], clients[1]);
  // The first answer ends the second stream (as a stream's answer can end another's connection).
  clients[0].onFinish = [&] { worker.headerBatcher().cancel(clients[1]); };
  turn();
  EXPECT_EQ(clients[0].answers.size(), 1u);
  EXPECT_EQ(clients[1].started, 1);         // its callback ran with the batch...
  EXPECT_TRUE(clients[1].answers.empty());  // ...but its answer is dropped
}

TEST_F(HeaderBatcherTest, CallsQueuedByAnswersRunInTheSamePass) {
  FakeStream streams[2];
  Client clients[2];
  queue(streams[0], clients[0]);
  // The answer moves the first stream on to a next plugin: here the same one, for another stream.
  bool queuedNext = false;
  clients[0].onFinish = [&] {
    if (!std::exchange(queuedNext, true)) queue(streams[1], clients[1]);
  };
  turn();
  ASSERT_EQ(clients[1].answers.size(), 1u);
  EXPECT_TRUE(clients[1].answers[0].isOk());
  EXPECT_EQ(batches(), 2u);
}

TEST_F(HeaderBatcherTest, ATrapFailsItsCallAndTheLaterOnesOnly) {
  // The fixture's list holds two entries: the five calls run as [0 1] [2 3] [4].
  FakeStream streams[5];
  Client clients[5];
  uint32_t contexts[5];
  for (int i = 0; i < 5; ++i) contexts[i] = queue(streams[i], clients[i]);
  ASSERT_TRUE(plugin->vm()->wasm().writeU32(0x810, contexts[1]));  // a local response there
  ASSERT_TRUE(plugin->vm()->wasm().writeU32(0x80c, contexts[3]));  // the fixture traps there
  turn();
  for (Client& client : clients) ASSERT_EQ(client.answers.size(), 1u);
  // The first entry of the list ran to its end, local response delivered: answers stand.
  ASSERT_TRUE(clients[0].answers[0].isOk());
  EXPECT_EQ(*clients[0].answers[0], abi::HeadersStatus::kContinue);
  ASSERT_TRUE(clients[1].answers[0].isOk());
  EXPECT_EQ(*clients[1].answers[0], abi::HeadersStatus::kStopAllAndWatermark);
  EXPECT_EQ(streams[1].localResponses.size(), 1u);
  // Returned Continue before the trap in the second entry: the answer stands.
  ASSERT_TRUE(clients[2].answers[0].isOk());
  EXPECT_EQ(added(streams[2]), std::to_string(contexts[2]));
  // The trap, and the call that never ran.
  EXPECT_EQ(clients[3].answers[0].status().code(), StatusCode::kTrap);
  EXPECT_TRUE(clients[3].ran[0]);
  EXPECT_EQ(clients[4].answers[0].status().code(), StatusCode::kTrap);
  EXPECT_FALSE(clients[4].ran[0]);
  EXPECT_EQ(added(streams[4]), "(none)");
  EXPECT_EQ(plugin->vm(), nullptr);  // failed; a rebuild is scheduled
  EXPECT_EQ(loaded->stats.vmFailures.load(), 1u);
}

TEST_F(HeaderBatcherTest, ACallForAVmSinceReplacedIsAnsweredWithoutRunning) {
  FakeStream stream;
  Client client;
  auto context = plugin->vm()->createStream(stream);
  ASSERT_TRUE(context.isOk());
  worker.headerBatcher().add(*plugin, plugin->generation() + 1, {*context, false, 0, false},
                             client);
  turn();
  EXPECT_EQ(client.started, 0);
  ASSERT_EQ(client.answers.size(), 1u);
  EXPECT_EQ(client.answers[0].status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(added(stream), "(none)");
}

TEST_F(WorkerPluginTest, SharedDataOutlivesAFailedVmUntilThePluginGoes) {
  ASSERT_EQ(abi::sharedData().set("worker_plugin_test", "k", "kept", 0), abi::WasmResult::kOk);
  plugin->onVmFailure(errorStatus(StatusCode::kTrap, "test"));
  turn();  // the failed VM is destroyed after the callback that failed it
  EXPECT_EQ(plugin->vm(), nullptr);
  auto kept = abi::sharedData().get("worker_plugin_test", "k");
  ASSERT_TRUE(kept.has_value());  // no VM of the vm_id runs, but the plugin will rebuild one
  EXPECT_EQ(kept->value, "kept");
  plugin.reset();  // the plugin removed
  EXPECT_FALSE(abi::sharedData().get("worker_plugin_test", "k").has_value());
}

}  // namespace
}  // namespace wasmgate::proxy
