// Every named limit and default of the project, in one place. Each has a
// command-line option in server_options.cpp; the protocol contract
// (PROTOCOL.md) fixes the defaults that other implementations rely on.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace activity {

using Millis = std::chrono::milliseconds;

inline constexpr std::uint16_t kDefaultPort = 3780;

// Framing and parsing.
inline constexpr std::size_t kDefaultMaxLineBytes = 1024 * 1024;  // 1 MiB
inline constexpr std::size_t kDefaultMaxDepth = 64;  // activity nesting

// Timers.
inline constexpr Millis kDefaultAnnounceInterval{5000};
inline constexpr Millis kDefaultLockTimeout{10000};
inline constexpr Millis kDefaultServerTimeout{30000};
inline constexpr Millis kDefaultHandshakeTimeout{10000};
inline constexpr Millis kDefaultWriteTimeout{10000};
// A line must be completed this long after its first byte (slow-loris).
inline constexpr Millis kDefaultLineTimeout{30000};
// Connecting to the remote server at start-up.
inline constexpr Millis kConnectTimeout{5000};
// A server whose link fails this soon after start-up exits non-zero.
inline constexpr Millis kStartupLinkGrace{2000};
// How long a closing connection waits for its peer to read the last reply.
inline constexpr Millis kLingerAfterFinalReply{2000};
// Housekeeping period of the timer thread (lock and server timeouts).
inline constexpr Millis kHousekeepingTick{100};

// Connections and queues.
// Each connection has two threads, and every thread takes a PID: with the
// common kernel.pid_max of 32768, about 15,000 connections is the ceiling.
inline constexpr std::size_t kDefaultMaxConnections = 12000;
inline constexpr std::size_t kDefaultClientQueueBytes = 8 * 1024 * 1024;
inline constexpr std::size_t kDefaultServerQueueBytes = 256 * 1024 * 1024;
// Stack size of connection threads: they hold no large frames, and 10,000
// clients must fit in a few hundred MiB.
inline constexpr std::size_t kConnectionThreadStack = 128 * 1024;

// Logging: bad input is quoted only as a short printable sample.
inline constexpr std::size_t kLogSampleBytes = 80;

}  // namespace activity
