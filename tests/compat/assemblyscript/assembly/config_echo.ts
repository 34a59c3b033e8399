// Uses the SDK's stock configuration handling (RootContext.onConfigure and
// getConfiguration(), as proxy-runtime's own README does) and returns the
// configuration in a response header. Only meant for a non-empty configuration:
// with an empty one the stock onConfigure decodes a stale buffer.
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context,
} from "@solo-io/proxy-runtime";

class ConfigEchoRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new ConfigEcho(context_id, this);
  }
}

class ConfigEcho extends Context {
  constructor(context_id: u32, root_context: ConfigEchoRoot) {
    super(context_id, root_context);
  }

  onResponseHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add("x-config", this.root_context.getConfiguration());
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new ConfigEchoRoot(context_id), "config_echo");
