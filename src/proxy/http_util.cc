#include "proxy/http_util.h"

#include "abi/pairs.h"
#include "proxy/http1/framing.h"
#include "proxy/http1/syntax.h"

namespace wasmgate::proxy {

bool isHopByHop(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "te" || name == "trailer" || name == "upgrade";
}

ConnectionOptions::ConnectionOptions(const http1::HeaderList& headers) : headers_(headers) {
  for (const http1::Header& h : headers) {
    if (!http1::syntax::equalsIgnoreCase(h.name, "connection")) continue;
    http1::syntax::forEachListElement(h.value, [&](std::string_view option) {
      if (count_ == kMaxKept) {
        tooMany_ = true;
        return false;
      }
      options_[count_++] = option;
      return true;
    });
    if (tooMany_) return;
  }
}

bool ConnectionOptions::nominates(std::string_view lowercaseName) const {
  if (tooMany_) return http1::hasConnectionOption(headers_, lowercaseName);
  for (size_t i = 0; i < count_; ++i) {
    if (http1::syntax::equalsIgnoreCase(options_[i], lowercaseName)) return true;
  }
  return false;
}

abi::Headers toAbiHeaders(const http1::HeaderList& headers, std::string_view pseudoValue,
                          std::string_view pseudoName) {
  abi::Headers out;
  // Room for the pseudo-header and a few that plugins add, which then do not move the others.
  out.reserve(headers.size() + 4);
  if (!pseudoValue.empty()) out.emplace_back(std::string(pseudoName), std::string(pseudoValue));
  ConnectionOptions connection(headers);
  for (const http1::Header& h : headers) {
    std::string name = abi::lowercase(h.name);
    if (isHopByHop(name) || connection.nominates(name)) continue;
    out.emplace_back(std::move(name), std::string(h.value));
  }
  return out;
}

void appendRequestHead(std::string& out, const abi::Headers& headers, bool chunked) {
  const std::string* method = abi::findHeader(headers, ":method");
  const std::string* path = abi::findHeader(headers, ":path");
  const std::string* authority = abi::findHeader(headers, ":authority");
  out.append(method ? *method : "GET").push_back(' ');
  out.append(path && !path->empty() ? *path : "/").append(" HTTP/1.1\r\n");
  if (authority) out.append("host: ").append(*authority).append("\r\n");
  for (const auto& [k, v] : headers) {
    if (k.empty() || k[0] == ':' || k == "host" || isHopByHop(k)) continue;
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (chunked) out.append("transfer-encoding: chunked\r\n");
  out.append("\r\n");
}

void appendResponseHead(std::string& out, const abi::Headers& headers, ResponseFraming framing) {
  const std::string* statusText = abi::findHeader(headers, ":status");
  uint32_t status =
      statusText ? static_cast<uint32_t>(std::strtoul(statusText->c_str(), nullptr, 10)) : 200;
  if (status < 100 || status > 999) status = 502;
  out.append("HTTP/1.1 ").append(std::to_string(status)).push_back(' ');
  out.append(reasonPhrase(status)).append("\r\n");
  for (const auto& [k, v] : headers) {
    if (k.empty() || k[0] == ':' || isHopByHop(k)) continue;
    if (framing != ResponseFraming::kContentLength && k == "content-length") continue;
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (framing == ResponseFraming::kChunked) out.append("transfer-encoding: chunked\r\n");
  if (framing == ResponseFraming::kClose) out.append("connection: close\r\n");
  out.append("\r\n");
}

std::string_view reasonPhrase(uint32_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 300   ? "OK"
             : status < 400 ? "Redirect"
             : status < 500 ? "Client Error"
                            : "Server Error";
  }
}

}  // namespace wasmgate::proxy
