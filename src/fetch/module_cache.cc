#include "fetch/module_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "fetch/digest.h"
#include "fetch/limits.h"

namespace wasmgate::fetch {
namespace {

Status ioError(const std::string& what, const std::string& path, int err) {
  return errorStatus(err == ENOENT ? StatusCode::kNotFound : StatusCode::kInternal,
                     what + " " + path + ": " + std::strerror(err));
}

Status writeAll(int fd, std::span<const uint8_t> bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("cannot write", path, errno);
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return Status::ok();
}

std::string tempName(const std::filesystem::path& path) {
  static std::atomic<uint64_t> counter{0};
  return (path.parent_path() / (".tmp." + std::to_string(getpid()) + "." +
                                std::to_string(counter++) + "." + path.filename().string()))
      .string();
}

// The value of "key=value" lines.
std::string refField(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == text.npos ? text.npos : end - pos);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == '=') {
      return std::string(line.substr(key.size() + 1));
    }
    if (end == text.npos) break;
    pos = end + 1;
  }
  return {};
}

}  // namespace

std::string ModuleCache::defaultDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/wasmgate";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/wasmgate";
  return {};
}

std::string ModuleCache::modulePath(const std::string& digest) const {
  return dir_ + "/modules/sha256/" + digest + ".wasm";
}

std::string ModuleCache::refPath(const std::string& url) const {
  return dir_ + "/urls/" + sha256Hex(std::string_view(url)) + ".ref";
}

std::optional<CachedRef> ModuleCache::lookup(const std::string& url) const {
  if (!enabled()) return std::nullopt;
  auto bytes = readFile(refPath(url), 64 * 1024);
  if (!bytes.isOk()) return std::nullopt;
  std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  if (refField(text, "url") != url) return std::nullopt;  // a hash collision, or a damaged file
  CachedRef ref{refField(text, "module"), refField(text, "manifest")};
  if (!isSha256Hex(ref.moduleDigest)) return std::nullopt;
  return ref;
}

std::optional<std::vector<uint8_t>> ModuleCache::load(const std::string& moduleDigest) const {
  if (!enabled() || !isSha256Hex(moduleDigest)) return std::nullopt;
  std::string path = modulePath(moduleDigest);
  auto bytes = readFile(path, kMaxBodyBytes);
  if (!bytes.isOk()) return std::nullopt;
  if (sha256Hex(*bytes) != moduleDigest) {
    ::unlink(path.c_str());
    return std::nullopt;
  }
  return std::move(*bytes);
}

Status ModuleCache::store(const std::string& url, std::span<const uint8_t> module,
                          const std::string& manifestDigest) const {
  if (!enabled()) return Status::ok();
  std::string digest = sha256Hex(module);
  std::string path = modulePath(digest);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || static_cast<size_t>(st.st_size) != module.size()) {
    WASMGATE_RETURN_IF_ERROR(writeFileAtomic(path, module));
  }
  std::string ref = "url=" + url + "\nmodule=" + digest + "\nmanifest=" + manifestDigest + "\n";
  return writeFileAtomic(refPath(url),
                         std::span(reinterpret_cast<const uint8_t*>(ref.data()), ref.size()));
}

Status writeFileAtomic(const std::string& path, std::span<const uint8_t> bytes) {
  std::filesystem::path target(path);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec)
    return errorStatus(StatusCode::kInternal,
                       "cannot create " + target.parent_path().string() + ": " + ec.message());
  std::string temp = tempName(target);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ioError("cannot create", temp, errno);
  Status status = writeAll(fd, bytes, temp);
  if (status.isOk() && ::fsync(fd) != 0) status = ioError("cannot sync", temp, errno);
  if (::close(fd) != 0 && status.isOk()) status = ioError("cannot close", temp, errno);
  if (status.isOk() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ioError("cannot rename to", path, errno);
  }
  if (!status.isOk()) ::unlink(temp.c_str());
  return status;
}

Result<std::vector<uint8_t>> readFile(const std::string& path, size_t maxBytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot read", path, errno);
  std::vector<uint8_t> out;
  uint8_t buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ioError("cannot read", path, err);
    }
    if (n == 0) break;
    if (static_cast<size_t>(n) > maxBytes - out.size()) {
      ::close(fd);
      return errorStatus(StatusCode::kBadArgument,
                         path + " is larger than " + std::to_string(maxBytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

}  // namespace wasmgate::fetch
