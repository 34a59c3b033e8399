// hello_tick: a timer example. Sets a tick period at configuration time and logs a greeting
// on every tick; the name greeted comes from a VM environment variable (WASI environ, set
// with run-plugin's --env or Envoy's vm_config.environment_variables).
//
// Configuration (optional): {"period_ms": 1000, "env": "HELLO_NAME"}
// Metrics: hello_ticks_total.
#include <cstdlib>
#include <string>

#include "wasmgate/plugin.h"

namespace {

class HelloRoot : public wasmgate::RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(size_t size) override {
    int64_t period_ms = 1000;
    std::string env = "HELLO_NAME";
    if (size != 0) {
      std::string error;
      auto doc = wasmgate::json::parse(configuration().view(), &error);
      if (!doc || !doc->isObject()) {
        wasmgate::logError("hello_tick: configuration must be a JSON object {}", error);
        return false;
      }
      const wasmgate::json::Value& period = (*doc)["period_ms"];
      const wasmgate::json::Value& name = (*doc)["env"];
      if ((!period.isNull() &&
           (!period.isInt() || period.asInt() < 1 || period.asInt() > 86400000)) ||
          (!name.isNull() && (!name.isString() || name.asString().empty()))) {
        wasmgate::logError("hello_tick: 'period_ms' must be 1..86400000 and 'env' a name");
        return false;
      }
      period_ms = period.asInt(period_ms);
      if (name.isString()) env = std::string(name.asString());
    }
    const char* value = std::getenv(env.c_str());
    name_ = value != nullptr && *value != '\0' ? value : "world";
    ticks_metric_ = wasmgate::Counter("hello_ticks_total");
    wasmgate::setTickPeriodMilliseconds(static_cast<uint32_t>(period_ms));
    wasmgate::logInfo("hello_tick: ticking every {} ms for {} (from ${})", period_ms, name_, env);
    return true;
  }

  void onTick() override {
    ++ticks_;
    ticks_metric_.increment();
    wasmgate::logInfo("hello, {}! (tick {})", name_, ticks_);
  }

 private:
  std::string name_;
  uint64_t ticks_ = 0;
  wasmgate::Counter ticks_metric_;
};

// No per-request behaviour: only a root context.
wasmgate::RegisterPlugin<HelloRoot> registration("hello_tick");

}  // namespace
