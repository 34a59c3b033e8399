// Answers requests whose path starts with a configured prefix with a local 403
// response; lets everything else through untouched.
//
// Configuration (one `key: value` per line, all optional):
//   prefix: /admin       path prefix to deny
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues,
  stream_context, send_local_response, GrpcStatusValues, HeaderPair,
  log, LogLevelValues, WasmResultValues,
} from "@solo-io/proxy-runtime";
import { readPluginConfiguration, configValue } from "./common";

class DenyPathRoot extends RootContext {
  prefix: string = "/admin";

  onConfigure(configuration_size: u32): bool {
    this.prefix = configValue(readPluginConfiguration(configuration_size), "prefix", "/admin");
    if (!this.prefix.startsWith("/")) {
      log(LogLevelValues.error, "deny_path: prefix must start with /, got '" + this.prefix + "'");
      return false;
    }
    return true;
  }

  createContext(context_id: u32): Context {
    return new DenyPath(context_id, this);
  }
}

class DenyPath extends Context {
  prefix: string;

  constructor(context_id: u32, root_context: DenyPathRoot) {
    super(context_id, root_context);
    this.prefix = root_context.prefix;
  }

  onRequestHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    let path = stream_context.headers.request.get(":path");
    if (!path.startsWith(this.prefix)) {
      return FilterHeadersStatusValues.Continue;
    }
    log(LogLevelValues.warn, "deny_path: denying " + path);
    let extra: HeaderPair[] = [
      new HeaderPair(String.UTF8.encode("x-denied-by"), String.UTF8.encode("deny_path")),
      new HeaderPair(String.UTF8.encode("content-type"), String.UTF8.encode("text/plain")),
    ];
    let body = String.UTF8.encode("access to " + path + " is forbidden\n");
    let result = send_local_response(403, "denied by deny_path", body, extra, GrpcStatusValues.InvalidCode);
    if (result != WasmResultValues.Ok) {
      log(LogLevelValues.error, "deny_path: send_local_response failed: " + result.toString());
    }
    return FilterHeadersStatusValues.StopIteration;
  }
}

registerRootContext((context_id: u32): RootContext => new DenyPathRoot(context_id), "deny_path");
