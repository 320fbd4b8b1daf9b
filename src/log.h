// Logging to standard error: one line per event with a UTC timestamp and a
// level. Thread-safe; lines from different threads never interleave.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace activity {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
std::optional<LogLevel> parse_log_level(std::string_view name);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view text);

// Formats its arguments with operator<< and logs them when `level` is on.
template <typename... Args>
void log(LogLevel level, const Args&... args) {
  if (!log_enabled(level)) return;
  std::ostringstream text;
  (text << ... << args);
  log_line(level, text.str());
}

}  // namespace activity
