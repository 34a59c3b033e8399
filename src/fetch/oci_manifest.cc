#include "fetch/oci_manifest.h"

#include <nlohmann/json.hpp>

#include "fetch/archive.h"
#include "fetch/digest.h"

namespace wasmgate::fetch {
namespace {

using nlohmann::json;

Status badManifest(std::string_view why) {
  return errorStatus(StatusCode::kProtocolError, "bad OCI manifest: " + std::string(why));
}

std::string stringMember(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<OciDescriptor> parseDescriptor(const json& entry) {
  if (!entry.is_object()) return badManifest("a descriptor is not an object");
  OciDescriptor d;
  d.mediaType = stringMember(entry, "mediaType");
  d.digest = stringMember(entry, "digest");
  if (!ociDigestHex(d.digest)) {
    return badManifest("descriptor digest \"" + d.digest + "\" is not sha256:<hex>");
  }
  auto size = entry.find("size");
  if (size != entry.end() && size->is_number_unsigned()) d.size = size->get<uint64_t>();
  auto platform = entry.find("platform");
  if (platform != entry.end() && platform->is_object()) {
    d.os = stringMember(*platform, "os");
    d.architecture = stringMember(*platform, "architecture");
  }
  return d;
}

Status parseDescriptors(const json& doc, const char* key, std::vector<OciDescriptor>& out) {
  auto list = doc.find(key);
  if (list == doc.end() || !list->is_array())
    return badManifest(std::string("no ") + key + " list");
  for (const json& entry : *list) {
    auto d = parseDescriptor(entry);
    if (!d.isOk()) return d.status();
    out.push_back(std::move(*d));
  }
  return Status::ok();
}

bool isKnownType(std::string_view type) {
  return type == kOciManifestType || type == kDockerManifestType || type == kOciIndexType ||
         type == kDockerListType;
}

int platformScore(const OciDescriptor& d) {
  if (d.os == "wasip1" || d.os == "wasi" || d.os == "wasm" || d.architecture == "wasm") return 2;
  return d.os == "linux" && d.architecture == "amd64" ? 1 : 0;
}

}  // namespace

std::string manifestAcceptHeader() {
  return std::string(kOciManifestType) + ", " + std::string(kDockerManifestType) + ", " +
         std::string(kOciIndexType) + ", " + std::string(kDockerListType);
}

Result<OciManifest> parseOciManifest(std::string_view text, std::string_view contentType) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return badManifest("not a JSON object");
  auto schema = doc.find("schemaVersion");
  if (schema == doc.end() || !schema->is_number_integer() || schema->get<int64_t>() != 2) {
    return badManifest("schemaVersion is not 2 (Docker schema 1 manifests are not supported)");
  }
  OciManifest m;
  m.mediaType = stringMember(doc, "mediaType");
  if (m.mediaType.empty()) m.mediaType = std::string(contentType.substr(0, contentType.find(';')));
  if (m.mediaType.empty() || m.mediaType == "application/json") {
    m.mediaType = doc.contains("manifests") ? kOciIndexType : kOciManifestType;
  }
  if (!isKnownType(m.mediaType)) return badManifest("unknown media type \"" + m.mediaType + "\"");
  m.isIndex = m.mediaType == kOciIndexType || m.mediaType == kDockerListType;
  WASMGATE_RETURN_IF_ERROR(m.isIndex ? parseDescriptors(doc, "manifests", m.manifests)
                                     : parseDescriptors(doc, "layers", m.layers));
  return m;
}

Result<OciDescriptor> pickIndexEntry(const OciManifest& index) {
  if (index.manifests.empty()) return badManifest("the image index lists no manifests");
  const OciDescriptor* best = &index.manifests.front();
  for (const OciDescriptor& d : index.manifests) {
    if (platformScore(d) > platformScore(*best)) best = &d;
  }
  return *best;
}

Result<OciDescriptor> moduleLayer(const OciManifest& manifest) {
  if (manifest.layers.empty()) return badManifest("the image has no layers");
  for (const OciDescriptor& layer : manifest.layers) {
    if (layer.mediaType == kWasmLayerType) return layer;
  }
  return manifest.layers.back();
}

Result<std::vector<uint8_t>> moduleFromLayer(const OciDescriptor& layer,
                                             std::span<const uint8_t> blob) {
  if (isWasm(blob)) return std::vector<uint8_t>(blob.begin(), blob.end());
  if (layer.mediaType == kWasmLayerType) {
    return errorStatus(StatusCode::kProtocolError, "layer " + layer.digest + " of media type " +
                                                       layer.mediaType +
                                                       " does not hold a Wasm module");
  }
  std::vector<uint8_t> tar;
  if (isGzip(blob)) {
    auto inflated = gunzip(blob);
    if (!inflated.isOk()) {
      return errorStatus(inflated.status().code(),
                         "layer " + layer.digest + ": " + inflated.status().message());
    }
    tar = std::move(*inflated);
  } else {
    tar.assign(blob.begin(), blob.end());
  }
  auto module = extractTarFile(tar, "plugin.wasm");
  if (!module.isOk()) {
    return errorStatus(module.status().code(), "layer " + layer.digest + " (" + layer.mediaType +
                                                   "): " + module.status().message());
  }
  return module;
}

}  // namespace wasmgate::fetch
