// OCI image references as WasmPlugin URLs write them:
// oci://host[:port]/repo/name[:tag][@sha256:..].
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace wasmgate::fetch {

struct OciReference {
  std::string registry;    // "host" or "host:port" ("docker.io" when the reference names none)
  std::string repository;  // "plugins/add-header" ("library/x" for a bare Docker Hub name)
  std::string tag;         // "latest" when neither a tag nor a digest is given
  std::string digest;      // "sha256:<64 lowercase hex>" when pinned; then it wins over the tag

  // What GET /v2/<repository>/manifests/<reference> takes: the digest, else the tag.
  const std::string& reference() const { return digest.empty() ? tag : digest; }
  std::string toString() const;
};

// With or without the "oci://" prefix. The first path component is a registry when it holds a
// '.' or a ':' or is "localhost", as Docker reads references; otherwise Docker Hub.
Result<OciReference> parseOciReference(std::string_view url);

// The base URL of a registry's API: plain http for loopback hosts and for those listed in
// `plainHttp` ("host" or "host:port"), https otherwise. Docker Hub's API is registry-1.docker.io.
std::string registryBaseUrl(const OciReference& ref, const std::vector<std::string>& plainHttp);

}  // namespace wasmgate::fetch
