#include "cli/serve_command.h"

#include <event2/event.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include "admin/admin_server.h"
#include "common/log.h"
#include "config/bootstrap.h"
#include "fetch/module_fetcher.h"
#include "proxy/server.h"
#include "runtime/v8/v8_engine.h"

extern const unsigned char kBuiltinAddHeaderPlugin[];
extern const std::size_t kBuiltinAddHeaderPlugin_size;

namespace wasmgate::cli {
namespace {

// What `wasmgate serve` runs without -c: the add_header example in front of a direct response.
constexpr std::string_view kBuiltinConfig = R"(admin:
  address: 127.0.0.1:9901
workers: 2
listeners:
  - name: main
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        direct_response: { status: 200, body: "Hello from wasmgate!\n" }
plugins:
  - name: add-header
    url: builtin://add_header
    pluginName: add_header
    failStrategy: FAIL_OPEN
    pluginConfig:
      request_headers: { x-hello: world }
      response_headers: { x-served-by: wasmgate, x-plugin: add_header }
)";

struct ServeFlags {
  std::string configPath;
  std::string logLevel = "info";
};

fetch::ModuleFetcher makeFetcher(const proxy::FetchConfig& config) {
  fetch::FetchOptions options;
  options.timeout = config.timeout;
  options.attempts = config.attempts;
  options.caFile = config.caFile;
  options.insecureSkipVerify = config.insecureSkipVerify;
  options.cacheDir = config.cacheDir;
  fetch::ModuleFetcher fetcher(std::move(options));
  fetcher.addBuiltin("add_header", {kBuiltinAddHeaderPlugin, kBuiltinAddHeaderPlugin_size});
  return fetcher;
}

Result<proxy::ServerConfig> loadConfig(const std::string& path) {
  std::vector<std::string> warnings;
  auto config = path.empty() ? config::parseBootstrap(kBuiltinConfig, "<built-in>", ".", &warnings)
                             : config::loadBootstrap(path, &warnings);
  for (const auto& w : warnings) logLine(LogSeverity::kWarn, "config", w);
  return config;
}

// A fingerprint of the plugin folders (names, sizes, modification times): a change means reload.
std::string pluginDirsFingerprint(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      // What a file replaced behind our back changes: inode and ctime too (a same-size copy with a
      // preserved mtime, a symlink swap), besides size and mtime.
      struct stat st {};
      if (stat(entry.path().c_str(), &st) != 0) continue;
      out += entry.path().string() + ":" + std::to_string(st.st_ino) + ":" +
             std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
             std::to_string(st.st_ctim.tv_nsec) + ";";
    }
  }
  return out;
}

class ServeRun {
 public:
  explicit ServeRun(ServeFlags flags) : flags_(std::move(flags)) {}

  int run() {
    auto config = loadConfig(flags_.configPath);
    if (!config.isOk()) return fail(config.status());
    fetcher_ = makeFetcher(config->fetch);
    admin::AdminServer* adminPtr = nullptr;
    server_ = std::make_unique<proxy::Server>(*config, [this](const proxy::PluginConfig& p) {
      return fetcher_.fetch(p.url, p.sha256, p.imagePullPolicy);
    });
    Status started = server_->start();
    if (!started.isOk()) return fail(started);
    std::unique_ptr<admin::AdminServer> admin;
    if (config->admin.enabled) {
      admin =
          std::make_unique<admin::AdminServer>(loop_, *server_, [this] { return reload("admin"); });
      Status listening = admin->listen(config->admin.address);
      if (!listening.isOk()) return fail(listening);
      adminPtr = admin.get();
    }
    (void)adminPtr;
    for (const auto& l : config->listeners) {
      logLine(LogSeverity::kInfo, "server",
              "listener " + l.name +
                  (l.type == proxy::ListenerConfig::Type::kTcp ? " on tcp://" : " on http://") +
                  l.address.toString());
    }
    if (config->admin.enabled) {
      logLine(LogSeverity::kInfo, "server", "admin on http://" + config->admin.address.toString());
    }
    pluginDirs_ = config->pluginDirs;
    dirsFingerprint_ = pluginDirsFingerprint(pluginDirs_);
    proxy::Timer watch(loop_, [this, &watch] {
      std::string now = pluginDirsFingerprint(pluginDirs_);
      if (now != dirsFingerprint_) {
        dirsFingerprint_ = now;
        (void)reload("plugin_dirs change");
      }
      watch.arm(std::chrono::milliseconds(250));
    });
    if (!pluginDirs_.empty()) watch.arm(std::chrono::milliseconds(250));
    event* sigint = evsignal_new(loop_.base(), SIGINT, &ServeRun::onStop, this);
    event* sigterm = evsignal_new(loop_.base(), SIGTERM, &ServeRun::onStop, this);
    event* sighup = evsignal_new(loop_.base(), SIGHUP, &ServeRun::onHangup, this);
    for (event* e : {sigint, sigterm, sighup}) event_add(e, nullptr);
    loop_.run();
    for (event* e : {sigint, sigterm, sighup}) event_free(e);
    logLine(LogSeverity::kInfo, "server", "shutting down");
    admin.reset();
    server_->stop();
    server_.reset();
    return 0;
  }

 private:
  static void onStop(evutil_socket_t, short, void* self) {
    static_cast<ServeRun*>(self)->loop_.stop();
  }
  static void onHangup(evutil_socket_t, short, void* self) {
    (void)static_cast<ServeRun*>(self)->reload("SIGHUP");
  }

  // Re-reads the configuration and swaps the plugin set; the running set stays on any error.
  Status reload(const std::string& why) {
    auto config = loadConfig(flags_.configPath);
    Status result = config.isOk() ? server_->reloadPlugins(config->plugins) : config.status();
    if (result.isOk()) {
      logLine(LogSeverity::kInfo, "server", "reloaded (" + why + ")");
    } else {
      logLine(LogSeverity::kError, "server",
              "reload (" + why + ") refused, the running plugins stay: " + result.message());
    }
    return result;
  }

  int fail(const Status& status) {
    std::cerr << "wasmgate: error: " << status.message() << "\n";
    return 1;
  }

  ServeFlags flags_;
  fetch::ModuleFetcher fetcher_;
  proxy::EventLoop loop_;
  std::unique_ptr<proxy::Server> server_;
  std::vector<std::string> pluginDirs_;
  std::string dirsFingerprint_;
};

// Loads, compiles and configures every plugin in a throw-away VM, as serve would.
int validate(const std::string& path) {
  auto config = loadConfig(path);
  if (!config.isOk()) {
    std::cerr << "wasmgate: error: " << config.status().message() << "\n";
    return 1;
  }
  fetch::ModuleFetcher fetcher = makeFetcher(config->fetch);
  auto engine = runtime::createV8Engine();
  for (const proxy::PluginConfig& p : config->plugins) {
    auto bytes = fetcher.fetch(p.url, p.sha256, p.imagePullPolicy);
    Status status = bytes.status();
    std::shared_ptr<const abi::PluginModule> module;
    if (status.isOk()) {
      auto loaded = abi::PluginModule::load(*engine, *bytes, p.limits);
      status = loaded.status();
      if (loaded.isOk()) module = *loaded;
    }
    if (status.isOk()) {
      struct QuietHost : abi::PluginHost {
        abi::MetricStore store;
        void log(abi::LogLevel level, std::string_view message) override {
          if (level >= abi::LogLevel::kWarn)
            logLine(static_cast<LogSeverity>(level), "validate", message);
        }
        abi::LogLevel logLevel() const override { return abi::LogLevel::kWarn; }
        abi::MetricStore& metrics() override { return store; }
        void setTickPeriod(std::chrono::milliseconds) override {}
        abi::WasmResult httpCall(uint32_t, const abi::HttpCallRequest&) override {
          return abi::WasmResult::kOk;
        }
        abi::WasmResult grpcCall(uint32_t, const abi::GrpcCallRequest&) override {
          return abi::WasmResult::kOk;
        }
        abi::WasmResult grpcStream(uint32_t, const abi::GrpcCallRequest&) override {
          return abi::WasmResult::kOk;
        }
        abi::WasmResult grpcSend(uint32_t, std::string_view, bool) override {
          return abi::WasmResult::kOk;
        }
        abi::WasmResult grpcClose(uint32_t) override { return abi::WasmResult::kOk; }
        abi::WasmResult grpcCancel(uint32_t) override { return abi::WasmResult::kOk; }
        void postQueueReady(uint32_t) override {}
        std::optional<std::string> property(std::span<const std::string_view>) override {
          return std::nullopt;
        }
      } host;
      abi::PluginSpec spec;
      spec.name = p.name;
      spec.rootId = p.rootId;
      spec.vmId = p.vmId;
      spec.pluginConfiguration = p.configuration;
      spec.environment = p.environment;
      auto vm = abi::PluginVm::create(module, spec, host);
      status = vm.isOk() ? (*vm)->start() : vm.status();
    }
    if (!status.isOk()) {
      std::cerr << "wasmgate: error: " << (p.source.empty() ? "" : p.source + ": ") << "plugin "
                << p.name << ": " << status.message() << "\n";
      return 1;
    }
  }
  std::cout << (path.empty() ? std::string("<built-in>") : path) << ": ok ("
            << config->listeners.size() << " listeners, " << config->clusters.size()
            << " clusters, " << config->plugins.size() << " plugins)\n";
  return 0;
}

bool applyLogLevel(const std::string& level) {
  LogSeverity severity;
  if (!parseLogSeverity(level, severity)) {
    std::cerr << "wasmgate: error: --log-level '" << level << "': unknown level\n";
    return false;
  }
  setLogThreshold(severity);
  return true;
}

}  // namespace

void addServeCommands(CLI::App& app, int& exitCode) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the proxy (without -c: a built-in example on 127.0.0.1:8080)");
  serve->add_option("-c,--config", flags->configPath, "Bootstrap YAML file");
  serve->add_option("--log-level", flags->logLevel,
                    "trace, debug, info, warn, error, critical or off");
  serve->callback([flags, &exitCode] {
    if (!applyLogLevel(flags->logLevel)) {
      exitCode = 1;
      return;
    }
    std::signal(SIGPIPE, SIG_IGN);
    ServeRun run(*flags);
    exitCode = run.run();
  });

  auto validatePath = std::make_shared<std::string>();
  CLI::App* check =
      app.add_subcommand("validate", "Check a bootstrap and its plugins without serving");
  check->add_option("-c,--config", *validatePath, "Bootstrap YAML file")->required();
  check->callback([validatePath, &exitCode] { exitCode = validate(*validatePath); });
}

}  // namespace wasmgate::cli
