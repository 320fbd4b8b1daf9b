// Every named limit and default of the project, in one place: the resource
// model. Each thing a peer can make this server hold has a bound here, and
// the README's resource table lists it with what happens at the bound.
// Limits an operator may want to change have a command-line option in
// server_options.cpp (named in the comment); the protocol contract
// (PROTOCOL.md) fixes the defaults that other implementations rely on.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace activity {

using Millis = std::chrono::milliseconds;

inline constexpr std::uint16_t kDefaultPort = 3780;

// --- Lines and parsing -----------------------------------------------------

// Longest accepted line (--max-line-bytes); longer: INVALID_MESSAGE, close.
inline constexpr std::size_t kDefaultMaxLineBytes = 1024 * 1024;  // 1 MiB
// Deepest activity nesting (--max-depth); deeper: INVALID_MESSAGE, close.
inline constexpr std::size_t kDefaultMaxDepth = 64;
// A connection's read buffer is 4 KiB, 64 KiB for a busy peer; growing it
// past that for one long line reserves the line limit less 64 KiB from a
// budget shared by all connections (--long-line-budget; the default holds
// 128 long lines of the default limit at once), so many half-sent long
// lines cannot add up without bound. A line that finds the budget spent
// waits (see kBudgetRetry); server links do not draw on it.
inline constexpr std::size_t kDefaultLongLineBudgetBytes = 128 * 1024 * 1024;
// A line that finds the long-line budget spent is not read further (the
// peer waits) and the budget is tried again this often, until the line's
// deadline (--line-timeout) passes; then it is refused.
inline constexpr Millis kBudgetRetry{50};
// A reader's parser (about 14 bytes per byte of document capacity) keeps at
// most this capacity between reads, so an idle connection holds ~14 KiB.
inline constexpr std::size_t kParserKeepBytes = 1024;
// A line longer than this is a long parse: its parser memory is freed as
// soon as it is parsed, and it takes one of kMaxConcurrentLongParses turns
// shared by the whole server (first come, first served; a parse is bounded
// CPU work), so long lines' parser memory stays below that many times 14
// bytes per byte of the line limit.
inline constexpr std::size_t kLongParseBytes = 16 * 1024;
inline constexpr std::size_t kMaxConcurrentLongParses = 2;

// --- Fields (PROTOCOL.md section 1: at most a few KiB) ---------------------

inline constexpr std::size_t kDefaultMaxUsernameBytes = 512;  // --max-username-bytes
inline constexpr std::size_t kDefaultMaxSecretBytes = 1024;   // --max-secret-bytes
inline constexpr std::size_t kDefaultMaxIdBytes = 256;        // --max-id-bytes
inline constexpr std::size_t kDefaultMaxHostnameBytes = 255;  // --max-hostname-bytes

// --- Stored state ------------------------------------------------------------

// Stored users (--max-users). At the bound: REGISTER_FAILED for a client,
// LOCK_DENIED for another server's LOCK_REQUEST.
inline constexpr std::size_t kDefaultMaxUsers = 100000;
// Known servers (--max-known-servers). An announce of one more:
// INVALID_MESSAGE on the link it came by, which is closed.
inline constexpr std::size_t kDefaultMaxKnownServers = 1000;
// Lock rounds this server runs at once (--max-pending-registrations).
// One more REGISTER: INVALID_MESSAGE.
inline constexpr std::size_t kDefaultMaxPendingRegistrations = 1000;
// REGISTERs accepted on one connection (--max-registrations-per-connection);
// one more: INVALID_MESSAGE. A client registers once, then logs in.
inline constexpr std::size_t kDefaultMaxRegistrationsPerConnection = 1;
// REGISTERs this server accepts per second from all its clients, with a
// burst of as many (--max-registrations-per-second); more: INVALID_MESSAGE.
inline constexpr std::size_t kDefaultRegistrationsPerSecond = 100;

// --- Timers ------------------------------------------------------------------

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
// A close therefore ends within the write timeout plus this.
inline constexpr Millis kLingerAfterFinalReply{2000};
// Healing (docs/features.md, "heal/1"). An extended server link silent for
// --link-timeout is closed; by default three announce intervals, and never
// less than this floor (one lost announce must not split the tree).
inline constexpr Millis kMinLinkTimeout{500};
// An orphaned server retries joining with exponential backoff and jitter
// between rounds (--reconnect-min, --reconnect-max).
inline constexpr Millis kDefaultReconnectMin{50};
inline constexpr Millis kDefaultReconnectMax{2000};
// One join attempt: connecting, then the target's announce and its root's
// answer, within this.
inline constexpr Millis kJoinTimeout{1000};
// ROOT_QUERYs relayed towards the root at once, and how long one is
// remembered; a query that has passed this many servers is dropped (it can
// only be circling).
inline constexpr std::size_t kMaxRelayedQueries = 256;
// ...and at most this many of them from one link, so that one neighbour
// cannot take the table from the others.
inline constexpr std::size_t kMaxRelayedPerLink = 32;
inline constexpr Millis kRelayedQueryLifetime{5000};
inline constexpr std::uint64_t kMaxQueryHops = 1024;
// Servers are remembered as places to rejoin (at most --max-known-servers
// of them) until they have not been heard of for this long.
inline constexpr Millis kRememberServersFor{10 * 60 * 1000};
// Graceful stop: how long the server waits for its redirected clients'
// connections to close before it closes its links and exits.
inline constexpr Millis kHandOffBound{2000};
// Housekeeping period of the timer thread (lock and server timeouts).
inline constexpr Millis kHousekeepingTick{100};

// --- Connections and queues ----------------------------------------------

// Each connection has two threads, and every thread takes a PID: with the
// common kernel.pid_max of 32768, about 15,000 connections is the ceiling.
// A connection also holds two descriptors (its socket and its wake-up
// eventfd). One more connection than --max-connections, or one whose
// threads or descriptors cannot be had, gets a one-line refusal.
inline constexpr std::size_t kDefaultMaxConnections = 12000;
// Bytes queued for one peer before it is dropped as a slow consumer
// (--client-queue-bytes, --server-queue-bytes). Each queued line counts
// its bytes plus kQueueEntryBytes, so many tiny lines cannot hold more
// memory than the limit says.
inline constexpr std::size_t kDefaultClientQueueBytes = 8 * 1024 * 1024;
inline constexpr std::size_t kDefaultServerQueueBytes = 256 * 1024 * 1024;
inline constexpr std::size_t kQueueEntryBytes = 32;
// Stack size of connection threads: they hold no large frames, and 10,000
// clients must fit in a few hundred MiB.
inline constexpr std::size_t kConnectionThreadStack = 128 * 1024;
// What a writer keeps of its scratch space between writes (lines).
inline constexpr std::size_t kWriterScratchKeep = 1024;

// --- Logging ---------------------------------------------------------------

// Bad input is quoted only as a short printable sample, secrets never.
inline constexpr std::size_t kLogSampleBytes = 80;
// No log line is longer than this (longer ones are cut, marked "...").
inline constexpr std::size_t kMaxLogLineBytes = 1024;
// The log writer's queue: lines wait here for standard error, so that no
// thread but the writer ever blocks on it. Lines that find it full are
// dropped and counted.
inline constexpr std::size_t kLogQueueBytes = 1024 * 1024;
// Lines written per second (--log-lines-per-second); the excess is dropped
// and a count of what was dropped is logged once a second.
inline constexpr std::size_t kDefaultLogLinesPerSecond = 200;

}  // namespace activity
