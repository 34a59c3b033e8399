#include "fetch/module_fetcher.h"

#include <algorithm>
#include <thread>

#include "common/log.h"
#include "fetch/http_client.h"
#include "fetch/limits.h"
#include "fetch/oci_client.h"

namespace wasmgate::fetch {
namespace {

bool isRemote(const std::string& url) {
  return url.starts_with("http://") || url.starts_with("https://") || url.starts_with("oci://");
}

// Connection failures, timeouts, 408, 429 and 5xx: worth another try.
bool isTransient(const Status& status) {
  return status.code() == StatusCode::kUnavailable ||
         status.code() == StatusCode::kDeadlineExceeded;
}

Status mismatch(const std::string& url, const std::string& expected, const std::string& actual) {
  return errorStatus(StatusCode::kBadArgument,
                     "sha256 mismatch for " + url + ": expected " + expected + ", got " + actual);
}

}  // namespace

ModuleFetcher::ModuleFetcher(FetchOptions options)
    : options_(std::move(options)),
      cache_(options_.disableCache       ? std::string()
             : options_.cacheDir.empty() ? ModuleCache::defaultDir()
                                         : options_.cacheDir) {}

void ModuleFetcher::addBuiltin(std::string name, std::span<const uint8_t> bytes) {
  builtins_[std::move(name)] = bytes;
}

Result<std::vector<uint8_t>> ModuleFetcher::fetch(const std::string& url, const std::string& sha256,
                                                  const std::string& pullPolicy) const {
  auto expected = normalizeSha256(sha256);
  if (!expected) {
    return errorStatus(StatusCode::kBadArgument,
                       "sha256 \"" + sha256 + "\" of " + url + " is not 64 hex digits");
  }
  if (!pullPolicy.empty() && pullPolicy != kPullIfNotPresent && pullPolicy != kPullAlways) {
    return errorStatus(StatusCode::kBadArgument, "imagePullPolicy \"" + pullPolicy + "\" of " +
                                                     url + " is not IfNotPresent or Always");
  }
  if (!isRemote(url)) {
    auto bytes = fetchLocal(url);
    if (!bytes.isOk() || expected->empty()) return bytes;
    std::string actual = sha256Hex(*bytes);
    if (actual != *expected) return mismatch(url, *expected, actual);
    return bytes;
  }
  if (pullPolicy != kPullAlways) {
    if (auto cached = fromCache(url, *expected)) return std::move(*cached);
  }
  return fetchAndCache(url, *expected);
}

Result<std::vector<uint8_t>> ModuleFetcher::fetchAndCache(const std::string& url,
                                                          const std::string& expected) const {
  auto remote = fetchRemote(url);
  if (!remote.isOk()) return remote.status();
  std::string actual = sha256Hex(remote->module);
  if (!expected.empty() && actual != expected && remote->manifestDigest != expected) {
    return mismatch(url, expected,
                    remote->manifestDigest.empty()
                        ? actual
                        : actual + " (image sha256 " + remote->manifestDigest + ")");
  }
  Status stored = cache_.store(url, remote->module, remote->manifestDigest);
  if (!stored.isOk()) {
    logLine(LogSeverity::kWarn, "fetch", "module of " + url + " not cached: " + stored.message());
  }
  return std::move(remote->module);
}

Result<std::vector<uint8_t>> ModuleFetcher::fetchLocal(const std::string& url) const {
  if (url.starts_with("builtin://")) {
    auto it = builtins_.find(url.substr(10));
    if (it == builtins_.end())
      return errorStatus(StatusCode::kNotFound, "no built-in module " + url);
    return std::vector<uint8_t>(it->second.begin(), it->second.end());
  }
  if (url.find("://") != std::string::npos && !url.starts_with("file://")) {
    return errorStatus(
        StatusCode::kBadArgument,
        "cannot fetch " + url + ": the scheme is not file, http, https, oci or builtin");
  }
  return readFile(url.starts_with("file://") ? url.substr(7) : url, kMaxBodyBytes);
}

std::optional<std::vector<uint8_t>> ModuleFetcher::fromCache(const std::string& url,
                                                             const std::string& sha256) const {
  auto ref = cache_.lookup(url);
  if (!ref) return std::nullopt;
  if (!sha256.empty() && ref->moduleDigest != sha256 && ref->manifestDigest != sha256) {
    return std::nullopt;
  }
  auto module = cache_.load(ref->moduleDigest);
  if (module)
    logLine(LogSeverity::kDebug, "fetch", url + ": cached module sha256 " + ref->moduleDigest);
  return module;
}

Result<ModuleFetcher::Remote> ModuleFetcher::fetchRemote(const std::string& url) const {
  uint32_t attempts = std::max<uint32_t>(options_.attempts, 1);
  long backoffMs = options_.backoff.count();
  for (uint32_t attempt = 1;; ++attempt) {
    auto result = fetchOnce(url);
    if (result.isOk() || !isTransient(result.status()) || attempt >= attempts) {
      if (!result.isOk() && attempt > 1) {
        return errorStatus(result.status().code(), result.status().message() + " (after " +
                                                       std::to_string(attempt) + " tries)");
      }
      return result;
    }
    logLine(LogSeverity::kWarn, "fetch",
            "try " + std::to_string(attempt) + " of " + std::to_string(attempts) +
                " failed: " + result.status().message());
    std::this_thread::sleep_for(std::chrono::milliseconds(backoffMs));
    backoffMs = std::min(backoffMs * 2, kMaxBackoffMs);
  }
}

Result<ModuleFetcher::Remote> ModuleFetcher::fetchOnce(const std::string& url) const {
  HttpClientOptions httpOptions;
  httpOptions.timeout = options_.timeout;
  httpOptions.tls = {options_.caFile, options_.insecureSkipVerify};
  HttpClient http(httpOptions);
  if (url.starts_with("oci://")) {
    auto ref = parseOciReference(url);
    if (!ref.isOk()) return ref.status();
    OciClient oci(http, options_.plainHttpRegistries);
    auto pulled = oci.pull(*ref);
    if (!pulled.isOk()) return pulled.status();
    return Remote{std::move(pulled->module), std::move(pulled->manifestDigest)};
  }
  auto res = http.get(url);
  if (!res.isOk()) return res.status();
  WASMGATE_RETURN_IF_ERROR(httpStatusError(*res, "GET " + url));
  return Remote{std::vector<uint8_t>(res->body.begin(), res->body.end()), ""};
}

}  // namespace wasmgate::fetch
