// A plugin whose stream class counts its instances, for test_context_queue.py: wasmgate queues
// the creation and deletion of its stream contexts in the SDK's context queue instead of calling
// the module, and the SDK must construct each context before its first callback and destroy the
// ended ones before the next.
#include "wasmgate/plugin.h"

namespace {

int live = 0;
int constructed = 0;

class CountedHttp : public wasmgate::HttpContext {
 public:
  CountedHttp(uint32_t id, wasmgate::RootContext* root) : HttpContext(id, root) {
    ++live;
    ++constructed;
  }
  // Whether the SDK is applying the queue right now, or was called through proxy_on_context_create.
  const bool from_queue_ = wasmgate::detail::contextQueue().count != 0;
  ~CountedHttp() override { --live; }

  wasmgate::FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    wasmgate::logInfo("probe: live={} constructed={} from_queue={}", live, constructed,
                      from_queue_);
    return wasmgate::FilterHeadersStatus::Continue;
  }
};

wasmgate::RegisterPlugin<wasmgate::RootContext, CountedHttp> registration("context_queue");

static_assert(wasmgate::detail::streamCallbacksOf<CountedHttp>() ==
              wasmgate::detail::kStreamRequestHeaders);

}  // namespace
