// The data plane as a whole: compiled plugins shared by all workers, the workers themselves, and
// live replacement of the plugin set.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "proxy/plugin_chain.h"
#include "proxy/server_config.h"
#include "proxy/worker.h"
#include "runtime/wasm_vm.h"

namespace wasmgate::proxy {

class Server {
 public:
  // Brings a plugin's module bytes (file, HTTP, OCI, checked against sha256 by the caller).
  using ModuleFetcher = std::function<Result<std::vector<uint8_t>>(const PluginConfig&)>;

  Server(ServerConfig config, ModuleFetcher fetcher);
  ~Server();

  // Compiles the plugins, starts their VMs on every worker (a configuration any plugin rejects
  // fails here), binds the listeners and runs the worker threads.
  Status start();
  void stop();

  // Builds the new plugin set on every worker, then swaps it in; requests in flight finish on the
  // old one. On any failure the running set stays and the error says why.
  Status reloadPlugins(std::vector<PluginConfig> plugins);

  const ServerConfig& config() const { return config_; }
  std::map<std::string, ListenerStats>& listenerStats() { return listenerStats_; }
  std::vector<std::shared_ptr<LoadedPlugin>> plugins() const;
  // Each plugin's VM state on each worker, read on the workers' own threads.
  std::map<std::string, std::vector<std::string>> pluginStates();
  size_t workerCount() const { return workers_.size(); }

 private:
  Result<std::vector<std::shared_ptr<LoadedPlugin>>> loadPlugins(
      const std::vector<PluginConfig>& plugins);
  Result<std::vector<std::shared_ptr<WorkerChain>>> buildChains(
      const std::vector<std::shared_ptr<LoadedPlugin>>& plugins);

  ServerConfig config_;
  ModuleFetcher fetcher_;
  std::unique_ptr<runtime::WasmEngine> engine_;
  std::map<std::string, ListenerStats> listenerStats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex pluginsMutex_;
  std::vector<std::shared_ptr<LoadedPlugin>> plugins_;
  std::mutex reloadMutex_;
  bool started_ = false;
};

}  // namespace wasmgate::proxy
