// The registration scenario: REGISTER round-trip time. Each of
// --concurrency sessions connects, sends REGISTER with a fresh username
// (unique to this run: a random prefix and a counter) and waits for
// REGISTER_SUCCESS or REGISTER_FAILED; the time from sending to the reply is
// one sample. The session then closes and starts over until --count
// registrations are done. Connecting is not part of the sample: on a tree,
// the round trip is the lock round through every server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_options.h"
#include "latency_histogram.h"
#include "scenario.h"
#include "session_pool.h"

namespace bench {

class RegisterScenario final : public Scenario {
 public:
  RegisterScenario(const BenchOptions& options, SessionPool& pool);

  void begin(std::int64_t now) override;
  void on_tick(std::int64_t now) override;
  std::int64_t next_wakeup_ns() const override { return next_progress_ns_; }
  bool finished() const override { return done_; }
  void abort(const std::string& reason) override;
  int report() override;

  void on_ready(std::size_t session) override;
  void on_unready(std::size_t) override {}
  void on_activity(std::size_t, const ActivityStamp&) override {}
  void on_register_reply(std::size_t session, bool success, std::string_view info) override;
  void on_failure(std::size_t session, const std::string& reason) override;

 private:
  const BenchOptions& options_;
  SessionPool& pool_;
  std::string name_prefix_;
  std::vector<std::int64_t> sent_ns_;  // per session: when its REGISTER went out
  int issued_ = 0;
  int completed_ = 0;
  int succeeded_ = 0;
  int failed_ = 0;
  std::string first_refusal_;
  std::string error_;
  bool done_ = false;
  std::int64_t start_ns_ = 0;
  std::int64_t end_ns_ = 0;
  std::int64_t last_reply_ns_ = 0;
  std::int64_t next_progress_ns_ = 0;
  int interval_completed_ = 0;
  LatencyHistogram rtt_;
};

}  // namespace bench
