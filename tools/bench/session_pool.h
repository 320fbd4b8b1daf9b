// Owns every session and the single event loop that drives them. The pool
// starts sessions, at most --connect-concurrency at a time still connecting
// or logging in (so that thousands of clients do not overflow the server's
// listen backlog), dispatches socket events by token, flushes each session
// with new output once per batch of events (so a burst of sends becomes one
// write), restarts redirected sessions when due, records login times, and
// passes session events on to the scenario. Everything runs on the calling
// thread: the tool uses one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "bench_options.h"
#include "endpoint.h"
#include "event_loop.h"
#include "latency_histogram.h"
#include "scenario.h"
#include "session.h"

namespace bench {

class SessionPool final : public SessionHost {
 public:
  explicit SessionPool(const BenchOptions& options);

  bool ok() const { return loop_.ok(); }

  // Creates a session of the configured system (not started yet); returns
  // its index, which is also how the scenario's events name it.
  std::size_t add(SessionRole role, const Endpoint& server);
  Session& session(std::size_t index) { return *sessions_[index]; }
  std::size_t size() const { return sessions_.size(); }

  // Starts the session once a connect slot is free.
  void enqueue_start(std::size_t index);
  // Starts the session now, outside the connect-concurrency limit.
  void start_now(std::size_t index);

  // Runs the loop until the scenario is finished or a stop signal arrives.
  void run(Scenario& scenario);

  // Time from the first start() to the last LOGIN_SUCCESS (redirects
  // included) of every session that logged in; registration sessions,
  // which reconnect for every round, are left out.
  LatencyHistogram login_times() const;
  std::uint64_t total_redirects() const;

  // SessionHost.
  EventLoop& loop() override { return loop_; }
  Resolver& resolver() override { return resolver_; }
  void mark_dirty(Session& session) override { dirty_.push_back(&session); }
  void start_later(Session& session, std::int64_t at_ns) override;
  void on_session_ready(Session& session) override;
  void on_session_unready(Session& session) override;
  void on_session_activity(Session& session, const ActivityStamp& stamp) override;
  void on_session_register_reply(Session& session, bool success, std::string_view info) override;
  void on_session_failed(Session& session, const std::string& reason) override;

 private:
  struct DeferredStart {
    std::int64_t at_ns;
    std::size_t index;
    std::uint32_t generation;
  };

  void admit();
  void release_slot(std::size_t index);
  void flush_dirty();
  void run_deferred(std::int64_t now);
  std::int64_t next_deferred_ns() const;

  const BenchOptions& options_;
  EventLoop loop_;
  Resolver resolver_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<bool> holds_slot_;
  std::deque<std::size_t> start_queue_;
  std::size_t slots_in_use_ = 0;
  bool admitting_ = false;
  std::vector<Session*> dirty_;
  std::vector<Session*> flushing_;
  std::vector<DeferredStart> deferred_;
  Scenario* scenario_ = nullptr;
  std::vector<std::int64_t> ready_ns_;  // per session: when it last became ready
};

}  // namespace bench
