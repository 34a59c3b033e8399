#include "fetch/url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace wasmgate::fetch {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Status badUrl(std::string_view text, std::string_view why) {
  return errorStatus(StatusCode::kBadArgument,
                     "bad URL \"" + std::string(text) + "\": " + std::string(why));
}

// Splits "host", "host:port", "[v6]" or "[v6]:port" into url.host and url.port.
Status parseAuthority(std::string_view text, std::string_view authority, Url& url) {
  if (authority.empty()) return badUrl(text, "no host");
  if (authority.find('@') != authority.npos) return badUrl(text, "credentials in URLs are refused");
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == authority.npos) return badUrl(text, "unclosed '['");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return badUrl(text, "junk after ']'");
    if (!rest.empty()) port = rest.substr(1);
  } else if (size_t colon = authority.rfind(':'); colon != authority.npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return badUrl(text, "no host");
  url.host = lower(host);
  url.port = url.tls() ? 443 : 80;
  if (port.empty()) return Status::ok();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return badUrl(text, "bad port");
  }
  url.port = static_cast<uint16_t>(value);
  return Status::ok();
}

// Removes "." and ".." segments (RFC 3986 5.2.4, simplified for paths that start with '/').
std::string removeDotSegments(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view seg = path.substr(pos, slash == path.npos ? path.npos : slash - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      if (slash == path.npos) segments.emplace_back();
    } else if (seg == ".") {
      if (slash == path.npos) segments.emplace_back();
    } else {
      segments.push_back(seg);
    }
    if (slash == path.npos) break;
    pos = slash + 1;
  }
  std::string out;
  for (std::string_view seg : segments) out += "/" + std::string(seg);
  return out.empty() ? "/" : out;
}

}  // namespace

std::string Url::authority() const {
  std::string out = host.find(':') != host.npos ? "[" + host + "]" : host;
  if (port != (tls() ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

Result<Url> parseUrl(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == text.npos) return badUrl(text, "no scheme");
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return badUrl(text, "not http or https");
  std::string_view rest = text.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  size_t pathStart = rest.find_first_of("/?");
  WASMGATE_RETURN_IF_ERROR(parseAuthority(text, rest.substr(0, pathStart), url));
  url.target = pathStart == rest.npos ? "/" : std::string(rest.substr(pathStart));
  if (url.target.front() == '?') url.target.insert(0, "/");
  for (unsigned char c : url.target) {
    if (c <= ' ' || c == 0x7f) return badUrl(text, "space or control character");
  }
  return url;
}

Result<Url> resolveUrl(const Url& base, std::string_view location) {
  if (location.find("://") != location.npos) return parseUrl(location);
  if (location.starts_with("//")) return parseUrl(base.scheme + ":" + std::string(location));
  Url out = base;
  std::string_view baseTarget = base.target;
  std::string_view basePath = baseTarget.substr(0, baseTarget.find('?'));
  if (location.empty()) return out;
  std::string target;
  if (location.front() == '/') {
    target = location;
  } else if (location.front() == '?') {
    target = std::string(basePath) + std::string(location);
  } else {
    target = std::string(basePath.substr(0, basePath.rfind('/') + 1)) + std::string(location);
  }
  size_t query = target.find('?');
  std::string path = removeDotSegments(std::string_view(target).substr(0, query));
  out.target = path + (query == target.npos ? "" : target.substr(query));
  return parseUrl(out.scheme + "://" + out.authority() + out.target);
}

bool isIpLiteral(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool isLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  std::string h(host);
  in_addr v4{};
  return inet_pton(AF_INET, h.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace wasmgate::fetch
