// Time for the benchmark: nanoseconds of CLOCK_MONOTONIC as a plain 64-bit
// integer. Send times travel inside activities as this number, and since
// publishers and subscribers live in the same process, the difference between
// a received stamp and now_ns() is the one-way latency through the server.
#pragma once

#include <cstdint>
#include <ctime>

namespace bench {

inline constexpr std::int64_t kNsPerMs = 1'000'000;
inline constexpr std::int64_t kNsPerSecond = 1'000'000'000;

inline std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

// CPU time (user and system) used by this process so far: the bench reports
// its own load so that a reader can tell when the tool, not the server, was
// the limit.
inline std::int64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

inline std::int64_t seconds_to_ns(double seconds) {
  return static_cast<std::int64_t>(seconds * static_cast<double>(kNsPerSecond));
}

}  // namespace bench
