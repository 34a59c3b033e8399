#include "fetch/oci_reference.h"

#include <algorithm>
#include <cctype>

#include "fetch/digest.h"
#include "fetch/url.h"

namespace wasmgate::fetch {
namespace {

Status badReference(std::string_view url, std::string_view why) {
  return errorStatus(StatusCode::kBadArgument,
                     "bad OCI reference \"" + std::string(url) + "\": " + std::string(why));
}

bool validRepository(std::string_view repo) {
  if (repo.empty() || repo.front() == '/' || repo.back() == '/' || repo.find("//") != repo.npos) {
    return false;
  }
  return std::all_of(repo.begin(), repo.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '.' || c == '_' || c == '-' || c == '/';
  });
}

bool validTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-') return false;
  return std::all_of(tag.begin(), tag.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

bool looksLikeRegistry(std::string_view component) {
  return component.find('.') != component.npos || component.find(':') != component.npos ||
         component == "localhost";
}

// The host of "host", "host:port", "[v6]" or "[v6]:port".
std::string_view hostOf(std::string_view registry) {
  if (registry.starts_with("[")) return registry.substr(1, registry.find(']') - 1);
  return registry.substr(0, registry.rfind(':'));
}

}  // namespace

std::string OciReference::toString() const {
  std::string out = "oci://" + registry + "/" + repository;
  if (!tag.empty() && (digest.empty() || tag != "latest")) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<OciReference> parseOciReference(std::string_view url) {
  std::string_view rest = url.starts_with("oci://") ? url.substr(6) : url;
  OciReference ref;
  if (size_t at = rest.find('@'); at != rest.npos) {
    auto hex = ociDigestHex(rest.substr(at + 1));
    if (!hex) return badReference(url, "the digest must be sha256:<64 hex digits>");
    ref.digest = "sha256:" + *hex;
    rest = rest.substr(0, at);
  }
  size_t slash = rest.find('/');
  if (slash != rest.npos && looksLikeRegistry(rest.substr(0, slash))) {
    ref.registry = std::string(rest.substr(0, slash));
    rest = rest.substr(slash + 1);
  } else {
    ref.registry = "docker.io";
  }
  size_t lastSlash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != rest.npos && (lastSlash == rest.npos || colon > lastSlash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!validTag(ref.tag)) return badReference(url, "bad tag \"" + ref.tag + "\"");
    rest = rest.substr(0, colon);
  } else {
    ref.tag = "latest";
  }
  ref.repository = std::string(rest);
  if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  if (!validRepository(ref.repository)) {
    return badReference(url, "bad repository name \"" + ref.repository + "\"");
  }
  return ref;
}

std::string registryBaseUrl(const OciReference& ref, const std::vector<std::string>& plainHttp) {
  if (ref.registry == "docker.io") return "https://registry-1.docker.io";
  std::string_view host = hostOf(ref.registry);
  bool plain = isLoopbackHost(host) ||
               std::find(plainHttp.begin(), plainHttp.end(), ref.registry) != plainHttp.end() ||
               std::find(plainHttp.begin(), plainHttp.end(), std::string(host)) != plainHttp.end();
  return (plain ? "http://" : "https://") + ref.registry;
}

}  // namespace wasmgate::fetch
