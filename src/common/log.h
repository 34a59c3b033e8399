// wasmgate's own log: one line per message on stderr, written whole even from many threads.
#pragma once

#include <string_view>

namespace wasmgate {

enum class LogSeverity { kTrace = 0, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// Messages below this are dropped. Set once at start-up, before any thread logs.
void setLogThreshold(LogSeverity threshold);
LogSeverity logThreshold();
bool parseLogSeverity(std::string_view name, LogSeverity& out);
void logLine(LogSeverity severity, std::string_view source, std::string_view message);

}  // namespace wasmgate
