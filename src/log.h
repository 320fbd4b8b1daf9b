// Logging to standard error: one line per event with a UTC timestamp and a
// level. Thread-safe; lines from different threads never interleave.
//
// What a log line can cost is bounded, whatever a peer sends: every byte
// outside printable ASCII is written as '?' (no peer text can forge a line
// or reach a terminal as a control sequence), a line is cut at
// kMaxLogLineBytes, and callers quote peer text only as short samples.
// With a log writer started (the server binary starts one), lines go
// through a bounded queue to a thread of their own, so no other thread ever
// blocks on a slow or stuck standard error; lines beyond the queue's size
// or the rate limit are dropped and counted. Without one (tests, the
// client), lines are written at once.
//
// While a DeferredLog is installed on a thread (the node lock installs
// one), that thread's lines are kept and emitted when it is removed, so
// nothing is ever logged under the node mutex.
#pragma once

#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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

// Starts the log writer thread: from now on lines are queued and written
// by it, at most `lines_per_second` of them a second.
void start_log_writer(std::size_t lines_per_second);
// Writes what is queued, then ends and joins the writer thread. Lines
// logged afterwards are written at once again.
void stop_log_writer();
// Lines dropped since the writer started (queue full or over the rate).
std::size_t dropped_log_lines();

// Keeps the lines logged on this thread while it exists; its destructor
// emits them. At most kMaxDeferredLines are kept; the rest are counted and
// reported in one line.
class DeferredLog {
 public:
  DeferredLog();
  ~DeferredLog();
  DeferredLog(const DeferredLog&) = delete;
  DeferredLog& operator=(const DeferredLog&) = delete;

 private:
  friend void log_line(LogLevel, std::string_view);
  static constexpr std::size_t kMaxDeferredLines = 64;
  std::vector<std::string> lines_;
  std::size_t dropped_ = 0;
  DeferredLog* previous_;
};

}  // namespace activity
