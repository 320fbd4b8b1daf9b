// Log output (see log.h). The level is an atomic read on every call so that
// disabled levels cost nothing but the comparison. A line is formatted
// whole (timestamp, level, sanitised text, newline) when it is logged, then
// emitted: kept by a DeferredLog, queued for the writer thread, or written.
#include "log.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include "named_limits.h"

namespace activity {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
thread_local DeferredLog* t_deferred = nullptr;

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kOff: break;
  }
  return "OFF";
}

std::string format_line(LogLevel level, std::string_view text) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis =
      duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char prefix[48];
  const std::size_t stamp =
      std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(prefix + stamp, sizeof prefix - stamp, ".%03dZ %-5s ",
                static_cast<int>(millis), level_name(level));
  std::string line = prefix;
  const bool cut = text.size() > kMaxLogLineBytes;
  const std::string_view shown = cut ? text.substr(0, kMaxLogLineBytes) : text;
  line.reserve(line.size() + shown.size() + 5);
  for (char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    line.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
  if (cut) line += "...";
  line.push_back('\n');
  return line;
}

void write_stderr(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

// The queue between logging threads and the writer thread.
class LogWriter {
 public:
  explicit LogWriter(std::size_t lines_per_second)
      : rate_(static_cast<double>(lines_per_second)), tokens_(rate_) {
    thread_ = std::thread([this] { run(); });
  }

  ~LogWriter() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_one();
    thread_.join();
  }

  // Never blocks on output: a line that finds the queue full or the rate
  // spent is dropped and counted.
  void push(std::string line) {
    std::lock_guard<std::mutex> lock(mutex_);
    refill();
    if (tokens_ < 1.0 || queued_bytes_ + line.size() > kLogQueueBytes) {
      ++dropped_;
      ++dropped_total_;
      return;
    }
    tokens_ -= 1.0;
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
    if (queue_.size() == 1) changed_.notify_one();
  }

  std::size_t dropped_total() {
    std::lock_guard<std::mutex> lock(mutex_);
    return dropped_total_;
  }

 private:
  using Clock = std::chrono::steady_clock;

  void refill() {
    const Clock::time_point now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    refilled_ = now;
    tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      // Wakes at least once a second while lines are being dropped, so the
      // count is reported even if nothing else is logged.
      changed_.wait_for(lock, std::chrono::seconds(1),
                        [this] { return stopping_ || !queue_.empty(); });
      std::string batch;
      while (!queue_.empty()) {
        batch += queue_.front();
        queue_.pop_front();
      }
      queued_bytes_ = 0;
      const Clock::time_point now = Clock::now();
      if (dropped_ > 0 && (now - reported_ >= std::chrono::seconds(1) || stopping_)) {
        batch += format_line(LogLevel::kWarn,
                             std::to_string(dropped_) +
                                 " log lines dropped (log queue full or over "
                                 "the rate limit)");
        dropped_ = 0;
        reported_ = now;
      }
      const bool stop = stopping_;
      lock.unlock();
      if (!batch.empty()) write_stderr(batch);
      lock.lock();
      if (stop && queue_.empty()) return;
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t dropped_ = 0;        // since the last report
  std::size_t dropped_total_ = 0;
  const double rate_;
  double tokens_;
  Clock::time_point refilled_ = Clock::now();
  Clock::time_point reported_{};
  bool stopping_ = false;
  std::thread thread_;
};

// Guards g_writer and, without a writer, serialises writes to stderr.
std::mutex g_output_mutex;
LogWriter* g_writer = nullptr;
std::size_t g_dropped_before = 0;  // from writers already stopped

void emit(std::string line) {
  std::lock_guard<std::mutex> lock(g_output_mutex);
  if (g_writer != nullptr) {
    g_writer->push(std::move(line));
  } else {
    write_stderr(line);
  }
}

}  // namespace

void set_log_level(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel log_level() {
  return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed));
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return std::nullopt;
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed) &&
         level != LogLevel::kOff;
}

void log_line(LogLevel level, std::string_view text) {
  std::string line = format_line(level, text);
  if (DeferredLog* deferred = t_deferred) {
    if (deferred->lines_.size() < DeferredLog::kMaxDeferredLines) {
      deferred->lines_.push_back(std::move(line));
    } else {
      ++deferred->dropped_;
    }
    return;
  }
  emit(std::move(line));
}

void start_log_writer(std::size_t lines_per_second) {
  auto* writer = new LogWriter(lines_per_second);
  std::lock_guard<std::mutex> lock(g_output_mutex);
  if (g_writer == nullptr) {
    g_writer = writer;
    return;
  }
  delete writer;  // one is running already
}

void stop_log_writer() {
  LogWriter* writer = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_output_mutex);
    writer = g_writer;
    g_writer = nullptr;
    if (writer != nullptr) g_dropped_before += writer->dropped_total();
  }
  delete writer;  // flushes what is queued, then joins
}

std::size_t dropped_log_lines() {
  std::lock_guard<std::mutex> lock(g_output_mutex);
  return g_dropped_before + (g_writer != nullptr ? g_writer->dropped_total() : 0);
}

DeferredLog::DeferredLog() : previous_(t_deferred) { t_deferred = this; }

DeferredLog::~DeferredLog() {
  t_deferred = previous_;
  for (std::string& line : lines_) {
    if (previous_ != nullptr) {
      previous_->lines_.push_back(std::move(line));
    } else {
      emit(std::move(line));
    }
  }
  if (dropped_ > 0) {
    log_line(LogLevel::kWarn,
             std::to_string(dropped_) + " more log lines of one event dropped");
  }
}

}  // namespace activity
