// OCI image manifests and indexes (and their Docker v2 equivalents), and how a Wasm module is
// found in one: the Wasm OCI artifact (a layer of media type
// application/vnd.module.wasm.content.layer.v1+wasm holding the module itself), or a plain
// docker/OCI image whose last layer is a tar(.gz) holding plugin.wasm, as Istio accepts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace wasmgate::fetch {

inline constexpr std::string_view kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifestType =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kWasmLayerType =
    "application/vnd.module.wasm.content.layer.v1+wasm";
inline constexpr std::string_view kWasmConfigType = "application/vnd.module.wasm.config.v1+json";

// The Accept header of a manifest request: image manifests first, then indexes.
std::string manifestAcceptHeader();

struct OciDescriptor {
  std::string mediaType;
  std::string digest;  // "sha256:<hex>" (checked to be one)
  uint64_t size = 0;
  std::string os;            // platform, in index entries
  std::string architecture;  // platform, in index entries
};

struct OciManifest {
  std::string mediaType;  // from the document, else from the Content-Type it came with
  bool isIndex = false;   // an image index or manifest list: `manifests` is filled
  std::vector<OciDescriptor> manifests;
  std::vector<OciDescriptor> layers;
};

// Parses a manifest or an index. Schema 1 manifests, unknown media types and malformed
// documents are kProtocolError.
Result<OciManifest> parseOciManifest(std::string_view json, std::string_view contentType);

// The index entry to follow: a Wasm platform (os wasip1/wasi/wasm or architecture wasm), else
// linux/amd64, else the first.
Result<OciDescriptor> pickIndexEntry(const OciManifest& index);

// The layer holding the module: the (first) Wasm layer, else the last layer.
Result<OciDescriptor> moduleLayer(const OciManifest& manifest);

// The module from that layer's blob: Wasm as is, or plugin.wasm from a tar (gzip or not).
Result<std::vector<uint8_t>> moduleFromLayer(const OciDescriptor& layer,
                                             std::span<const uint8_t> blob);

}  // namespace wasmgate::fetch
