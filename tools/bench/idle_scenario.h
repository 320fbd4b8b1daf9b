// The idle scenario: log in N anonymous clients (NATS: connect and PING),
// spread round-robin over --servers and at most --connect-concurrency at a
// time, then hold them all for --duration seconds. It measures how long
// logging in takes; the server's memory and thread count while it holds
// the clients are read by the driver script from /proc, which it does once
// --ready-file appears. A client dropped by the server during the hold
// fails the run.
#pragma once

#include <cstdint>
#include <string>

#include "bench_options.h"
#include "scenario.h"
#include "session_pool.h"

namespace bench {

class IdleScenario final : public Scenario {
 public:
  IdleScenario(const BenchOptions& options, SessionPool& pool);

  void begin(std::int64_t now) override;
  void on_tick(std::int64_t now) override;
  std::int64_t next_wakeup_ns() const override;
  bool finished() const override { return done_; }
  void abort(const std::string& reason) override;
  int report() override;

  void on_ready(std::size_t session) override;
  void on_unready(std::size_t) override;
  void on_activity(std::size_t, const ActivityStamp&) override { ++broadcasts_; }
  void on_register_reply(std::size_t, bool, std::string_view) override {}
  void on_failure(std::size_t session, const std::string& reason) override;

 private:
  const BenchOptions& options_;
  SessionPool& pool_;
  std::size_t ready_ = 0;
  std::uint64_t broadcasts_ = 0;
  std::string error_;
  bool done_ = false;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ready_ns_ = 0;  // last change of the number of ready clients
  std::int64_t all_ready_ns_ = -1;
  std::int64_t hold_end_ns_ = -1;
  std::int64_t next_progress_ns_ = 0;
};

}  // namespace bench
