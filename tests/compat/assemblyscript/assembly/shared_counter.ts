// Counts requests in shared data with a compare-and-swap loop and reports the
// count in a request header, a response header and the log. After each update it
// also tries a write with a stale CAS and reports what the host answered.
//
// Configuration (one `key: value` per line, all optional):
//   key: compat.request_count    shared-data key to count in
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues,
  stream_context, log, LogLevelValues, WasmResultValues,
} from "@solo-io/proxy-runtime";
import { readPluginConfiguration, configValue, getSharedData, setSharedData } from "./common";

class SharedCounterRoot extends RootContext {
  key: string = "compat.request_count";

  onConfigure(configuration_size: u32): bool {
    this.key = configValue(readPluginConfiguration(configuration_size), "key", "compat.request_count");
    return this.key.length > 0;
  }

  createContext(context_id: u32): Context {
    return new SharedCounter(context_id, this);
  }
}

class SharedCounter extends Context {
  key: string;
  count: string = "";
  stale_cas_result: string = "";

  constructor(context_id: u32, root_context: SharedCounterRoot) {
    super(context_id, root_context);
    this.key = root_context.key;
  }

  // Returns the new count, or 0 if the host kept failing the update.
  increment(): u32 {
    for (let attempt = 0; attempt < 10; attempt++) {
      let current = getSharedData(this.key);
      let count: u32 = 0;
      if (current.result == WasmResultValues.Ok) {
        count = U32.parseInt(current.value);
      } else if (current.result != WasmResultValues.NotFound) {
        log(LogLevelValues.error, "shared_counter: get failed: " + current.result.toString());
        return 0;
      }
      let next = count + 1;
      let result = setSharedData(this.key, next.toString(), current.cas);
      if (result == WasmResultValues.Ok) return next;
      if (result != WasmResultValues.CasMismatch) {
        log(LogLevelValues.error, "shared_counter: set failed: " + result.toString());
        return 0;
      }
      log(LogLevelValues.debug, "shared_counter: CAS mismatch, retrying");
    }
    return 0;
  }

  onRequestHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    let n = this.increment();
    this.count = n.toString();
    log(LogLevelValues.info, "shared_counter: request count " + this.count);

    // A write with a CAS other than the current one must be refused with
    // CasMismatch and leave the value alone.
    let now = getSharedData(this.key);
    if (now.result == WasmResultValues.Ok) {
      let stale = setSharedData(this.key, "999999", now.cas + 1);
      this.stale_cas_result = stale == WasmResultValues.CasMismatch ? "mismatch" : "unexpected-" + stale.toString();
      let after = getSharedData(this.key);
      if (after.value != this.count) {
        this.stale_cas_result += ",value-changed-to-" + after.value;
      }
    } else {
      this.stale_cas_result = "get-failed-" + now.result.toString();
    }

    stream_context.headers.request.add("x-request-count", this.count);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add("x-request-count", this.count);
    stream_context.headers.response.add("x-stale-cas", this.stale_cas_result);
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new SharedCounterRoot(context_id), "shared_counter");
