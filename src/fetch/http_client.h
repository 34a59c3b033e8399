// A small blocking HTTP/1.1 client for fetching modules: one connection per request
// ("Connection: close"), http and https, redirects, Content-Length, chunked and close-delimited
// bodies, a size cap, and one deadline per request. No keep-alive, no compression, no proxies.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fetch/connection.h"
#include "fetch/limits.h"
#include "fetch/url.h"

namespace wasmgate::fetch {

struct HttpHeader {
  std::string name;
  std::string value;
};
using HttpHeaders = std::vector<HttpHeader>;

struct HttpResponse {
  int status = 0;
  std::string reason;
  HttpHeaders headers;
  std::string body;
  std::string url;  // the URL that answered, after redirects

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10000};  // one request: connect to the last body byte
  TlsOptions tls;
  size_t maxBodyBytes = kMaxBodyBytes;
  int maxRedirects = kMaxRedirects;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
  ~HttpClient();

  // GET, following redirects (301, 302, 303, 307, 308). An Authorization header is dropped when
  // a redirect leaves the origin (registries redirect blobs to storage that has its own
  // credentials in the URL). Any status is a response; transport failures are errors.
  Result<HttpResponse> get(std::string_view url, const HttpHeaders& headers = {});
  // Any status, a body capped at `maxBody` (at most the options' cap).
  Result<HttpResponse> get(std::string_view url, const HttpHeaders& headers, size_t maxBody);
  // One request, redirects not followed.
  Result<HttpResponse> send(std::string_view method, const Url& url, const HttpHeaders& headers,
                            std::string_view body, size_t maxBody);

 private:
  Result<const TlsContext*> tlsContext();

  HttpClientOptions options_;
  std::unique_ptr<TlsContext> tls_;
};

// A status as an error: 2xx ok; 404 kNotFound; 408, 429 and 5xx kUnavailable (worth a retry);
// anything else kProtocolError. The message names the request and the status line.
Status httpStatusError(const HttpResponse& response, std::string_view what);

}  // namespace wasmgate::fetch
