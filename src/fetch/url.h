// http:// and https:// URLs as the fetch layer's HTTP client takes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace wasmgate::fetch {

struct Url {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;    // lowercase; an IPv6 address without brackets
  uint16_t port = 0;   // explicit, or the scheme's default
  std::string target;  // path and query, starting with '/'; the fragment is dropped

  bool tls() const { return scheme == "https"; }
  // "host", "host:port" when not the default port, "[v6]:port": the Host header.
  std::string authority() const;
  std::string toString() const { return scheme + "://" + authority() + target; }
  // Same scheme, host and port: credentials may follow a redirect only within one origin.
  bool sameOrigin(const Url& other) const {
    return scheme == other.scheme && host == other.host && port == other.port;
  }
};

// An absolute http(s) URL; userinfo is refused (credentials never travel in URLs here).
Result<Url> parseUrl(std::string_view text);

// A Location header resolved against the URL it answered: absolute, scheme-relative ("//h/p"),
// absolute-path ("/p") or relative ("p", "../p", "?q").
Result<Url> resolveUrl(const Url& base, std::string_view location);

// localhost, 127.0.0.0/8 and ::1: registries there are spoken to over plain http.
bool isLoopbackHost(std::string_view host);
// A numeric IPv4 or IPv6 address (certificates name those in IP SANs, and SNI is not sent).
bool isIpLiteral(std::string_view host);

// Percent-encodes everything but RFC 3986 unreserved characters (query parameter values).
std::string urlEncode(std::string_view text);

}  // namespace wasmgate::fetch
