// Pulls a Wasm module from an OCI registry with the distribution API: the manifest
// (GET /v2/<name>/manifests/<reference>, following an image index to one manifest), then the
// layer holding the module (GET /v2/<name>/blobs/<digest>), every digest verified. A registry
// answering 401 with a Bearer challenge gets an anonymous token from its realm; nothing else
// about credentials is supported.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fetch/http_client.h"
#include "fetch/oci_manifest.h"
#include "fetch/oci_reference.h"

namespace wasmgate::fetch {

struct OciPull {
  std::vector<uint8_t> module;
  std::string manifestDigest;  // hex sha256 of the manifest the reference names (the image digest)
};

// A WWW-Authenticate challenge: the scheme lowercased under "" and each auth-param by its
// lowercased name ("realm", "service", "scope").
std::map<std::string, std::string> parseAuthChallenge(std::string_view header);

class OciClient {
 public:
  // `plainHttp`: registries ("host" or "host:port") spoken to over http beside loopback ones.
  OciClient(HttpClient& http, std::vector<std::string> plainHttp)
      : http_(http), plainHttp_(std::move(plainHttp)) {}

  Result<OciPull> pull(const OciReference& ref);

 private:
  struct FetchedManifest {
    OciManifest manifest;
    std::string digestHex;
  };
  Result<FetchedManifest> getManifest(const std::string& reference);
  Result<std::vector<uint8_t>> getBlob(const OciDescriptor& blob);
  // GET with the bearer token, fetching one on a first 401 with a Bearer challenge.
  Result<HttpResponse> get(const std::string& url, HttpHeaders headers, size_t maxBody);
  Status fetchToken(const std::map<std::string, std::string>& challenge);

  HttpClient& http_;
  std::vector<std::string> plainHttp_;
  OciReference ref_;
  std::string base_;   // "http://127.0.0.1:5000"
  std::string token_;  // bearer token, once a registry asked for one
};

}  // namespace wasmgate::fetch
