// On request headers, asks an authorization service (an HTTP call to a cluster)
// about the request and pauses it. When the call answers:
//   - status 200: adds `x-auth-user` (the callout's `x-user` response header, or
//     its body when that header is absent) and `x-auth-status` to the request
//     and resumes it;
//   - any other status: denies with a local 403 whose body names that status;
//   - failure (no response at all): denies with a local 503.
//
// Configuration (one `key: value` per line, all optional):
//   cluster: auth_cluster
//   authority: auth.local
//   timeout-ms: 1500
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, BaseContext, registerRootContext, FilterHeadersStatusValues,
  stream_context, send_local_response, continue_request, GrpcStatusValues, HeaderPair,
  log, LogLevelValues, WasmResultValues,
} from "@solo-io/proxy-runtime";
import { get_buffer_bytes, BufferTypeValues } from "@solo-io/proxy-runtime/runtime";
import { readPluginConfiguration, configValue } from "./common";

class HttpCalloutRoot extends RootContext {
  cluster: string = "auth_cluster";
  authority: string = "auth.local";
  timeout_ms: u32 = 1500;

  onConfigure(configuration_size: u32): bool {
    let config = readPluginConfiguration(configuration_size);
    this.cluster = configValue(config, "cluster", "auth_cluster");
    this.authority = configValue(config, "authority", "auth.local");
    this.timeout_ms = U32.parseInt(configValue(config, "timeout-ms", "1500"));
    return this.cluster.length > 0;
  }

  createContext(context_id: u32): Context {
    return new HttpCallout(context_id, this);
  }
}

function header(name: string, value: string): HeaderPair {
  return new HeaderPair(String.UTF8.encode(name), String.UTF8.encode(value));
}

function deny(status: u32, details: string, body: string): void {
  let extra: HeaderPair[] = [header("x-denied-by", "http_callout")];
  let result = send_local_response(status, details, String.UTF8.encode(body), extra, GrpcStatusValues.InvalidCode);
  if (result != WasmResultValues.Ok) {
    log(LogLevelValues.error, "http_callout: send_local_response failed: " + result.toString());
  }
}

// Runs in the root context's proxy_on_http_call_response, after the SDK switched
// the effective context back to the request that made the call.
function onAuthResponse(origin: Context, num_headers: u32, body_size: usize, num_trailers: u32): void {
  log(LogLevelValues.info, "http_callout: response for context " + origin.context_id.toString() +
    ": headers " + num_headers.toString() + ", body " + body_size.toString() + ", trailers " + num_trailers.toString());
  if (num_headers == 0) {
    deny(503, "auth_unavailable", "authorization service unavailable\n");
    return;
  }
  let status = stream_context.headers.http_callback.get(":status");
  if (status != "200") {
    deny(403, "auth_denied", "denied by authorization service (status " + status + ")\n");
    return;
  }
  let user = stream_context.headers.http_callback.get("x-user");
  if (user == "") {
    user = String.UTF8.decode(get_buffer_bytes(BufferTypeValues.HttpCallResponseBody, 0, <u32>body_size));
  }
  stream_context.headers.request.add("x-auth-user", user);
  stream_context.headers.request.add("x-auth-status", status);
  let result = continue_request();
  if (result != WasmResultValues.Ok) {
    log(LogLevelValues.error, "http_callout: continue_request failed: " + result.toString());
  }
}

class HttpCallout extends Context {
  cfg: HttpCalloutRoot;

  constructor(context_id: u32, root_context: HttpCalloutRoot) {
    super(context_id, root_context);
    this.cfg = root_context;
  }

  onRequestHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    let path = stream_context.headers.request.get(":path");
    let headers: HeaderPair[] = [
      header(":method", "POST"),
      header(":path", "/check"),
      header(":authority", this.cfg.authority),
      header("x-original-path", path),
    ];
    let body = String.UTF8.encode("check " + path);
    let result = this.cfg.httpCall(this.cfg.cluster, headers, body, [], this.cfg.timeout_ms, this, onAuthResponse);
    if (result != WasmResultValues.Ok) {
      log(LogLevelValues.error, "http_callout: http call failed: " + result.toString());
      deny(500, "auth_call_failed", "could not call the authorization service\n");
      return FilterHeadersStatusValues.StopIteration;
    }
    return FilterHeadersStatusValues.StopIteration;
  }
}

registerRootContext((context_id: u32): RootContext => new HttpCalloutRoot(context_id), "http_callout");
