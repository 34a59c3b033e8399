#include "fetch/oci_client.h"

#include <nlohmann/json.hpp>

#include <cctype>

#include "fetch/digest.h"
#include "fetch/limits.h"
#include "fetch/url.h"

namespace wasmgate::fetch {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One auth-param value: a quoted string (with backslash escapes) or a token.
std::string challengeValue(std::string_view& rest) {
  std::string value;
  if (!rest.empty() && rest.front() == '"') {
    size_t i = 1;
    for (; i < rest.size() && rest[i] != '"'; ++i) {
      if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
      value.push_back(rest[i]);
    }
    rest.remove_prefix(std::min(i + 1, rest.size()));
  } else {
    size_t end = rest.find(',');
    value = std::string(rest.substr(0, end));
    while (!value.empty() && value.back() == ' ') value.pop_back();
    rest.remove_prefix(end == rest.npos ? rest.size() : end);
  }
  return value;
}

}  // namespace

std::map<std::string, std::string> parseAuthChallenge(std::string_view header) {
  std::map<std::string, std::string> out;
  size_t space = header.find(' ');
  out[""] = lower(header.substr(0, space));
  std::string_view rest = space == header.npos ? std::string_view() : header.substr(space + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    size_t eq = rest.find('=');
    if (eq == rest.npos) break;
    std::string name = lower(rest.substr(0, eq));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    rest.remove_prefix(eq + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    out[name] = challengeValue(rest);
  }
  return out;
}

Result<OciPull> OciClient::pull(const OciReference& ref) {
  ref_ = ref;
  base_ = registryBaseUrl(ref, plainHttp_);
  auto top = getManifest(ref.reference());
  if (!top.isOk()) return top.status();
  OciPull out;
  out.manifestDigest = top->digestHex;
  OciManifest manifest = std::move(top->manifest);
  if (manifest.isIndex) {
    auto entry = pickIndexEntry(manifest);
    if (!entry.isOk()) return entry.status();
    auto inner = getManifest(entry->digest);
    if (!inner.isOk()) return inner.status();
    if (inner->manifest.isIndex) {
      return errorStatus(StatusCode::kProtocolError, ref.toString() + ": nested image indexes");
    }
    manifest = std::move(inner->manifest);
  }
  auto layer = moduleLayer(manifest);
  if (!layer.isOk()) return layer.status();
  auto blob = getBlob(*layer);
  if (!blob.isOk()) return blob.status();
  auto module = moduleFromLayer(*layer, *blob);
  if (!module.isOk()) return module.status();
  out.module = std::move(*module);
  return out;
}

Result<OciClient::FetchedManifest> OciClient::getManifest(const std::string& reference) {
  std::string url = base_ + "/v2/" + ref_.repository + "/manifests/" + reference;
  auto res = get(url, {{"Accept", manifestAcceptHeader()}}, kMaxManifestBytes);
  if (!res.isOk()) return res.status();
  WASMGATE_RETURN_IF_ERROR(httpStatusError(*res, "GET " + url));
  FetchedManifest out;
  out.digestHex = sha256Hex(res->body);
  auto pinned = ociDigestHex(reference);
  if (pinned && *pinned != out.digestHex) {
    return errorStatus(
        StatusCode::kProtocolError,
        "GET " + url + ": the manifest's digest is sha256:" + out.digestHex + ", not " + reference);
  }
  const std::string* type = res->header("content-type");
  auto manifest = parseOciManifest(res->body, type ? *type : "");
  if (!manifest.isOk()) {
    return errorStatus(manifest.status().code(), url + ": " + manifest.status().message());
  }
  out.manifest = std::move(*manifest);
  return out;
}

Result<std::vector<uint8_t>> OciClient::getBlob(const OciDescriptor& blob) {
  std::string url = base_ + "/v2/" + ref_.repository + "/blobs/" + blob.digest;
  if (blob.size > kMaxBodyBytes) {
    return errorStatus(StatusCode::kProtocolError, url + ": layer of " + std::to_string(blob.size) +
                                                       " bytes is over the size cap");
  }
  auto res = get(url, {}, kMaxBodyBytes);
  if (!res.isOk()) return res.status();
  WASMGATE_RETURN_IF_ERROR(httpStatusError(*res, "GET " + url));
  std::string actual = sha256Hex(res->body);
  if (actual != *ociDigestHex(blob.digest)) {
    return errorStatus(StatusCode::kProtocolError,
                       "GET " + url + ": the blob's digest is sha256:" + actual);
  }
  return std::vector<uint8_t>(res->body.begin(), res->body.end());
}

Result<HttpResponse> OciClient::get(const std::string& url, HttpHeaders headers, size_t maxBody) {
  auto withToken = [&] {
    HttpHeaders h = headers;
    if (!token_.empty()) h.push_back({"Authorization", "Bearer " + token_});
    return h;
  };
  auto res = http_.get(url, withToken(), maxBody);
  if (!res.isOk() || res->status != 401 || !token_.empty()) return res;
  const std::string* header = res->header("www-authenticate");
  if (header == nullptr) return res;
  auto challenge = parseAuthChallenge(*header);
  if (challenge[""] != "bearer" || challenge["realm"].empty()) return res;
  WASMGATE_RETURN_IF_ERROR(fetchToken(challenge));
  return http_.get(url, withToken(), maxBody);
}

Status OciClient::fetchToken(const std::map<std::string, std::string>& challenge) {
  auto param = [&](const char* key) {
    auto it = challenge.find(key);
    return it == challenge.end() ? std::string() : it->second;
  };
  std::string scope =
      param("scope").empty() ? "repository:" + ref_.repository + ":pull" : param("scope");
  std::string url = param("realm");
  url += url.find('?') == std::string::npos ? "?" : "&";
  if (!param("service").empty()) url += "service=" + urlEncode(param("service")) + "&";
  url += "scope=" + urlEncode(scope);
  auto res = http_.get(url, {}, kMaxManifestBytes);
  if (!res.isOk()) return res.status();
  WASMGATE_RETURN_IF_ERROR(httpStatusError(*res, "anonymous token from " + param("realm")));
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  for (const char* key : {"token", "access_token"}) {
    if (doc.is_object() && doc.contains(key) && doc[key].is_string()) {
      token_ = doc[key].get<std::string>();
      if (!token_.empty()) return Status::ok();
    }
  }
  return errorStatus(StatusCode::kProtocolError,
                     "anonymous token from " + param("realm") + ": no token in the answer");
}

}  // namespace wasmgate::fetch
