// The interface between the session pool, which runs the event loop, and a
// scenario, which decides what the clients do and what is measured. The
// pool calls begin() once, then on_tick() after every batch of events (and
// at the wake-up time the scenario asks for), and forwards session events;
// when finished() turns true it stops, and report() prints the results.
// Also here: the exit codes, and helpers shared by all scenarios.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "activity_payload.h"

namespace bench {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitIntegrity = 3;

// Every client must have stayed logged in this long before a scenario moves
// on: the server sends REDIRECT right after LOGIN_SUCCESS, so a client that
// has just logged in may still be sent elsewhere.
inline constexpr std::int64_t kLoginSettleNs = 100'000'000;
// Logging in may be slow (thousands of clients, redirects) but not stalled.
inline constexpr std::int64_t kReadyStallTimeoutNs = 30'000'000'000;

class Scenario {
 public:
  virtual ~Scenario() = default;

  virtual void begin(std::int64_t now) = 0;
  virtual void on_tick(std::int64_t now) = 0;
  // When on_tick() must run next at the latest (negative: no need).
  virtual std::int64_t next_wakeup_ns() const = 0;
  virtual bool finished() const = 0;
  // Stops the run; report() will say why.
  virtual void abort(const std::string& reason) = 0;
  // Prints the human summary on stderr and the JSON line on stdout; returns
  // the exit status.
  virtual int report() = 0;

  virtual void on_ready(std::size_t session) = 0;
  // A ready session was redirected and is logging in again.
  virtual void on_unready(std::size_t session) = 0;
  virtual void on_activity(std::size_t session, const ActivityStamp& stamp) = 0;
  virtual void on_register_reply(std::size_t session, bool success, std::string_view info) = 0;
  virtual void on_failure(std::size_t session, const std::string& reason) = 0;
};

// Creates (or truncates) `path`; does nothing if it is empty. Scripts wait
// for this file to know when to sample the server.
void touch_ready_file(const std::string& path);

// Prints one progress line on stderr: "[  12.0s] <text>".
void print_progress(std::int64_t elapsed_ns, const std::string& text);

// Formats a rate or count with thousands separators: 1234567 -> "1,234,567".
std::string format_thousands(double value);

}  // namespace bench
