#include "proxy/server.h"

#include <future>
#include <set>
#include <thread>
#include <tuple>

#include "common/log.h"
#include "common/sha256.h"
#include "runtime/v8/v8_engine.h"

namespace wasmgate::proxy {
namespace {

// Whether a plugin would run exactly as before: every field but where it was declared.
bool sameDeployment(const PluginConfig& a, const PluginConfig& b) {
  auto fields = [](const PluginConfig& c) {
    return std::tie(c.name, c.url, c.sha256, c.imagePullPolicy, c.phase, c.priority, c.failStrategy,
                    c.rootId, c.vmId, c.configuration, c.environment, c.type, c.matchPorts,
                    c.logOnly, c.limits, c.allowedHostcalls);
  };
  return fields(a) == fields(b);
}

}  // namespace

Server::Server(ServerConfig config, ModuleFetcher fetcher)
    : config_(std::move(config)), fetcher_(std::move(fetcher)), engine_(runtime::createV8Engine()) {
  for (const ListenerConfig& l : config_.listeners) listenerStats_[l.name];
  uint32_t workers =
      config_.workers ? config_.workers : std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, config_, listenerStats_));
    workers_.back()->setVmGroup(engine_->newGroup());
  }
}

Server::~Server() {
  stop();
  workers_.clear();  // plugin VMs die with their workers' chains
  plugins_.clear();
}

Result<std::vector<std::shared_ptr<LoadedPlugin>>> Server::loadPlugins(
    const std::vector<PluginConfig>& configs) {
  const std::vector<std::shared_ptr<LoadedPlugin>> runningPlugins = plugins();
  std::map<std::string, std::shared_ptr<PluginCounters>> counters;
  for (const auto& running : runningPlugins)
    counters[running->config.name] = running->countersOwner;
  std::vector<std::shared_ptr<LoadedPlugin>> out;
  std::set<const LoadedPlugin*> claimed;  // each running plugin is kept at most once
  for (const PluginConfig& config : configs) {
    auto bytes = fetcher_(config);
    if (!bytes.isOk()) {
      return errorStatus(bytes.status().code(),
                         "plugin " + config.name + ": " + bytes.status().message());
    }
    std::string sha = sha256Hex(*bytes);
    // Unchanged, down to the module's bytes: keep the running plugin and, in buildChains, its VMs
    // (and whatever state they hold).
    std::shared_ptr<LoadedPlugin> unchanged;
    for (const auto& running : runningPlugins) {
      if (running->sha256 == sha && sameDeployment(running->config, config) &&
          !claimed.count(running.get())) {
        unchanged = running;
      }
    }
    if (unchanged) {
      claimed.insert(unchanged.get());
      out.push_back(std::move(unchanged));
      continue;
    }
    auto kept = counters.find(config.name);
    auto loaded = kept != counters.end() ? std::make_shared<LoadedPlugin>(kept->second)
                                         : std::make_shared<LoadedPlugin>();
    loaded->config = config;
    loaded->sha256 = std::move(sha);
    // The same bytes under the same limits compile to the same code: reuse what runs already.
    for (const auto& running : runningPlugins) {
      if (running->sha256 == loaded->sha256 &&
          running->config.limits.maxMemoryPages == config.limits.maxMemoryPages &&
          running->config.limits.callDeadline == config.limits.callDeadline) {
        loaded->module = running->module;
      }
    }
    if (!loaded->module) {
      auto module = abi::PluginModule::load(*engine_, *bytes, config.limits);
      if (!module.isOk()) {
        return errorStatus(module.status().code(),
                           "plugin " + config.name + ": " + module.status().message());
      }
      loaded->module = std::move(module).value();
    }
    out.push_back(std::move(loaded));
  }
  return out;
}

Result<std::vector<std::shared_ptr<WorkerChain>>> Server::buildChains(
    const std::vector<std::shared_ptr<LoadedPlugin>>& plugins) {
  std::vector<std::shared_ptr<WorkerChain>> chains;
  for (auto& worker : workers_) {
    auto chain = std::make_shared<WorkerChain>();
    // The worker's running chain: read here only while no swap is under way (reloadMutex_, or
    // before the workers start).
    const std::shared_ptr<WorkerChain>& running = worker->chain();
    for (const auto& plugin : plugins) {
      auto& list = plugin->config.type == PluginType::kHttp ? chain->http : chain->network;
      std::shared_ptr<WorkerPlugin> reused;
      for (const auto* runningList : {&running->http, &running->network}) {
        for (const auto& wp : *runningList) {
          if (&wp->plugin() == plugin.get()) reused = wp;
        }
      }
      if (reused) {
        list.push_back(std::move(reused));
        continue;
      }
      auto wp = std::make_shared<WorkerPlugin>(*worker, plugin);
      Status started = wp->start();
      if (!started.isOk()) {
        return errorStatus(started.code(),
                           "plugin " + plugin->config.name + ": " + started.message());
      }
      list.push_back(std::move(wp));
    }
    chains.push_back(std::move(chain));
  }
  return chains;
}

Status Server::start() {
  auto plugins = loadPlugins(config_.plugins);
  if (!plugins.isOk()) return plugins.status();
  auto chains = buildChains(*plugins);
  if (!chains.isOk()) return chains.status();
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->setChain((*chains)[i]);
    WASMGATE_RETURN_IF_ERROR(workers_[i]->listen());
  }
  {
    std::lock_guard lock(pluginsMutex_);
    plugins_ = std::move(plugins).value();
  }
  for (auto& worker : workers_) worker->start();
  started_ = true;
  return Status::ok();
}

void Server::stop() {
  for (auto& worker : workers_) worker->stop();
}

Status Server::reloadPlugins(std::vector<PluginConfig> configs) {
  std::lock_guard reloading(reloadMutex_);
  auto plugins = loadPlugins(configs);
  if (!plugins.isOk()) return plugins.status();
  auto chains = buildChains(*plugins);
  if (!chains.isOk()) return chains.status();  // the new VMs die here; nothing was swapped
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    std::promise<void> swapped;
    // The swap and the old chain's release both happen on the worker's own thread.
    worker->loop().post([worker, chain = std::move((*chains)[i]), &swapped]() mutable {
      worker->setChain(std::move(chain));
      swapped.set_value();
    });
    swapped.get_future().wait();
  }
  {
    std::lock_guard lock(pluginsMutex_);
    plugins_ = std::move(plugins).value();
    config_.plugins = std::move(configs);
  }
  logLine(LogSeverity::kInfo, "server",
          "plugin set replaced: " + std::to_string(plugins_.size()) + " plugins");
  return Status::ok();
}

std::vector<std::shared_ptr<LoadedPlugin>> Server::plugins() const {
  std::lock_guard lock(pluginsMutex_);
  return plugins_;
}

std::map<std::string, std::vector<std::string>> Server::pluginStates() {
  std::map<std::string, std::vector<std::string>> states;
  for (auto& worker : workers_) {
    std::promise<std::vector<std::pair<std::string, std::string>>> answer;
    Worker* w = worker.get();
    w->loop().post([w, &answer] {
      std::vector<std::pair<std::string, std::string>> out;
      for (const auto* list : {&w->chain()->http, &w->chain()->network}) {
        for (const auto& p : *list) out.emplace_back(p->plugin().config.name, p->state());
      }
      answer.set_value(std::move(out));
    });
    for (auto& [name, state] : answer.get_future().get()) states[name].push_back(state);
  }
  return states;
}

}  // namespace wasmgate::proxy
