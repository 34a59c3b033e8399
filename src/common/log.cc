#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace wasmgate {
namespace {

constexpr std::string_view kNames[] = {"trace", "debug",    "info", "warn",
                                       "error", "critical", "off"};
std::atomic<LogSeverity> threshold{LogSeverity::kInfo};

}  // namespace

void setLogThreshold(LogSeverity t) {
  threshold.store(t);
}
LogSeverity logThreshold() {
  return threshold.load();
}

bool parseLogSeverity(std::string_view name, LogSeverity& out) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) {
      out = static_cast<LogSeverity>(i);
      return true;
    }
  }
  return false;
}

void logLine(LogSeverity severity, std::string_view source, std::string_view message) {
  if (severity < threshold.load(std::memory_order_relaxed) || severity == LogSeverity::kOff) return;
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(message.size() + 64);
  line.append(stamp).append(".").append(std::to_string(1000 + millis).substr(1)).append("Z [");
  line.append(kNames[static_cast<size_t>(severity)]).append("] ");
  if (!source.empty()) line.append("[").append(source).append("] ");
  line.append(message).push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());  // one write: lines never mix
  (void)ignored;
}

}  // namespace wasmgate
