#include "config/wasm_plugin.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <tuple>

#include "config/limits.h"
#include "config/plugin_spec.h"
#include "config/yaml_reader.h"

namespace wasmgate::config {
namespace {

namespace fs = std::filesystem;
using detail::Field;
using detail::MapField;

constexpr std::array<std::string_view, 2> kApiVersions = {"extensions.istio.io/v1alpha1",
                                                          "extensions.istio.io/v1beta1"};
// Kubernetes ObjectMeta: only name is read; the others are accepted as kubectl writes them.
// clang-format off
constexpr std::array<std::string_view, 15> kMetadataKeys = {
    "name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName",
    "finalizers", "ownerReferences", "managedFields", "selfLink"};
// clang-format on

Status checkResourceType(const MapField& doc) {
  Result<Field> apiVersion = doc.require("apiVersion");
  if (!apiVersion.isOk()) return apiVersion.status();
  Result<std::string> version = apiVersion->string();
  if (!version.isOk()) return version.status();
  if (std::find(kApiVersions.begin(), kApiVersions.end(), *version) == kApiVersions.end()) {
    return apiVersion->error("\"" + *version + "\" is not one of " + std::string(kApiVersions[0]) +
                             ", " + std::string(kApiVersions[1]));
  }
  Result<Field> kind = doc.require("kind");
  if (!kind.isOk()) return kind.status();
  Result<std::string> kindText = kind->string();
  if (!kindText.isOk()) return kindText.status();
  if (*kindText != "WasmPlugin") return kind->error("\"" + *kindText + "\" is not WasmPlugin");
  return Status::ok();
}

Result<proxy::PluginConfig> parseManifest(const Field& root, detail::SpecContext& ctx) {
  // The resource type first, so a document of another kind is refused as such.
  Result<MapField> any = root.anyMap();
  if (!any.isOk()) return any.status();
  WASMGATE_RETURN_IF_ERROR(checkResourceType(*any));
  Result<MapField> doc = root.map({"apiVersion", "kind", "metadata", "spec", "status"});
  if (!doc.isOk()) return doc.status();
  Result<Field> metadataField = doc->require("metadata");
  if (!metadataField.isOk()) return metadataField.status();
  Result<MapField> metadata = metadataField->map(kMetadataKeys);
  if (!metadata.isOk()) return metadata.status();
  Result<Field> name = metadata->require("name");
  if (!name.isOk()) return name.status();
  std::string ns;
  WASMGATE_RETURN_IF_ERROR(metadata->readString("namespace", ns));
  Result<Field> spec = doc->require("spec");
  if (!spec.isOk()) return spec.status();
  return detail::parsePluginSpec(*spec, &*name, root.location(), ctx);
}

bool isManifestFile(const fs::path& p) {
  std::string name = p.filename().string();
  std::string ext = p.extension().string();
  return !name.empty() && name[0] != '.' && (ext == ".yaml" || ext == ".yml");
}

Status unexpected(const std::string& where, const std::exception& e) {
  return Status(StatusCode::kInternal, where + ": " + e.what());
}

}  // namespace

namespace detail {

Status parseManifestsInto(std::string_view yamlText, const std::string& fileName, SpecContext& ctx,
                          std::vector<proxy::PluginConfig>& out) {
  Result<std::vector<YAML::Node>> docs = loadYamlDocuments(yamlText, fileName);
  if (!docs.isOk()) return docs.status();
  for (const YAML::Node& doc : *docs) {
    if (doc.IsNull()) continue;  // an empty document, such as a trailing "---"
    Result<proxy::PluginConfig> plugin = parseManifest(Field::root(fileName, doc), ctx);
    if (!plugin.isOk()) return plugin.status();
    out.push_back(std::move(*plugin));
  }
  return Status::ok();
}

Status loadPluginDirInto(const std::string& dir, Warnings& warnings, PluginNames& names,
                         std::vector<proxy::PluginConfig>& out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return Status(ec == std::errc::no_such_file_or_directory ? StatusCode::kNotFound
                                                             : StatusCode::kBadArgument,
                  dir + ": cannot read plugin folder: " + ec.message());
  }
  std::vector<fs::path> files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code typeEc;
    if (isManifestFile(it->path()) && it->is_regular_file(typeEc)) files.push_back(it->path());
    if (files.size() > kMaxPluginDirFiles) {
      return Status(StatusCode::kBadArgument,
                    dir + ": more than " + std::to_string(kMaxPluginDirFiles) + " manifest files");
    }
  }
  if (ec) {
    return Status(StatusCode::kBadArgument, dir + ": cannot read plugin folder: " + ec.message());
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  SpecContext ctx{dir, warnings, names};
  for (const fs::path& file : files) {
    std::string fileName = (fs::path(dir) / file.filename()).string();
    Result<std::string> text = readConfigFile(fileName);
    if (!text.isOk()) return text.status();
    WASMGATE_RETURN_IF_ERROR(parseManifestsInto(*text, fileName, ctx, out));
  }
  return Status::ok();
}

}  // namespace detail

Result<PluginSet> parseWasmPluginManifests(std::string_view yamlText, const std::string& fileName,
                                           const std::string& baseDir) {
  try {
    detail::Warnings warnings;
    detail::PluginNames names;
    detail::SpecContext ctx{baseDir, warnings, names};
    PluginSet set;
    WASMGATE_RETURN_IF_ERROR(detail::parseManifestsInto(yamlText, fileName, ctx, set.plugins));
    set.warnings = warnings.lines();
    return set;
  } catch (const std::exception& e) {
    return unexpected(fileName, e);
  }
}

Result<PluginSet> loadPluginDirs(std::span<const std::string> dirs) {
  try {
    detail::Warnings warnings;
    detail::PluginNames names;
    PluginSet set;
    for (const std::string& dir : dirs) {
      WASMGATE_RETURN_IF_ERROR(detail::loadPluginDirInto(dir, warnings, names, set.plugins));
    }
    set.warnings = warnings.lines();
    return set;
  } catch (const std::exception& e) {
    return unexpected(dirs.empty() ? std::string() : dirs.front(), e);
  }
}

Result<PluginSet> loadPluginDir(const std::string& dir) {
  return loadPluginDirs(std::span<const std::string>(&dir, 1));
}

std::vector<proxy::PluginConfig> orderPlugins(std::vector<proxy::PluginConfig> plugins) {
  auto phaseRank = [](proxy::PluginPhase phase) {
    switch (phase) {
      case proxy::PluginPhase::kAuthn:
        return 0;
      case proxy::PluginPhase::kAuthz:
        return 1;
      case proxy::PluginPhase::kStats:
        return 2;
      case proxy::PluginPhase::kUnspecified:
        return 3;
    }
    return 3;
  };
  std::stable_sort(
      plugins.begin(), plugins.end(),
      [&](const proxy::PluginConfig& a, const proxy::PluginConfig& b) {
        return std::make_tuple(phaseRank(a.phase), -int64_t{a.priority}, std::string_view(a.name)) <
               std::make_tuple(phaseRank(b.phase), -int64_t{b.priority}, std::string_view(b.name));
      });
  return plugins;
}

}  // namespace wasmgate::config
