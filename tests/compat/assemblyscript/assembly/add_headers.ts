// Adds one request header and one response header, both configurable, and echoes
// the request path back in a response header. A request carrying `x-compat-abort`
// makes it throw, which the SDK turns into a critical log and WASI proc_exit.
//
// Configuration (plugin configuration, one `key: value` per line, all optional):
//   request-header: NAME=VALUE    default x-compat-request=assemblyscript
//   response-header: NAME=VALUE   default x-compat-response=assemblyscript
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues,
  stream_context, log, LogLevelValues,
} from "@solo-io/proxy-runtime";
import { readPluginConfiguration, configValue } from "./common";

class HeaderSpec {
  constructor(public name: string, public value: string) {}
}

function parseHeaderSpec(spec: string): HeaderSpec {
  let eq = spec.indexOf("=");
  if (eq <= 0) return new HeaderSpec("", "");
  return new HeaderSpec(spec.substring(0, eq).trim(), spec.substring(eq + 1).trim());
}

class AddHeadersRoot extends RootContext {
  request_header: HeaderSpec = new HeaderSpec("x-compat-request", "assemblyscript");
  response_header: HeaderSpec = new HeaderSpec("x-compat-response", "assemblyscript");

  onConfigure(configuration_size: u32): bool {
    let config = readPluginConfiguration(configuration_size);
    this.request_header = parseHeaderSpec(configValue(config, "request-header", "x-compat-request=assemblyscript"));
    this.response_header = parseHeaderSpec(configValue(config, "response-header", "x-compat-response=assemblyscript"));
    if (this.request_header.name == "" || this.response_header.name == "") {
      log(LogLevelValues.error, "add_headers: header specs must look like NAME=VALUE");
      return false;
    }
    log(LogLevelValues.info, "add_headers: request " + this.request_header.name + "=" + this.request_header.value +
      ", response " + this.response_header.name + "=" + this.response_header.value);
    return true;
  }

  createContext(context_id: u32): Context {
    return new AddHeaders(context_id, this);
  }
}

class AddHeaders extends Context {
  path: string = "";
  cfg: AddHeadersRoot;

  constructor(context_id: u32, root_context: AddHeadersRoot) {
    super(context_id, root_context);
    this.cfg = root_context;
  }

  onRequestHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    this.path = stream_context.headers.request.get(":path");
    let abort_reason = stream_context.headers.request.get("x-compat-abort");
    if (abort_reason != "") {
      throw new Error("abort requested by x-compat-abort: " + abort_reason);
    }
    log(LogLevelValues.info, "add_headers: " + num_headers.toString() + " request headers, path " + this.path +
      ", end_of_stream " + (end_of_stream ? "true" : "false"));
    stream_context.headers.request.add(this.cfg.request_header.name, this.cfg.request_header.value);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add(this.cfg.response_header.name, this.cfg.response_header.value);
    stream_context.headers.response.add("x-compat-path", this.path);
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new AddHeadersRoot(context_id), "add_headers");
