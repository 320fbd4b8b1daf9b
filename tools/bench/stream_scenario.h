// The publish/subscribe scenario. P publishers and S subscribers log in
// (subscribers first); every client receives every activity, publishers
// included. Before the run, each publisher sends probes until every client
// has seen one from every publisher, so all subscriptions are known to be
// live (in a NATS cluster, interest spreads asynchronously) and any later
// loss is a real one. Then come warm-up, measurement and drain:
//
// - at maximum throughput a publisher keeps `window` messages unacknowledged,
//   its own copy coming back being the acknowledgement, so the figure is
//   what the server delivers, not what socket buffers absorb;
// - at a fixed rate a publisher sends on a schedule and stamps each message
//   with its scheduled time (so a stalled server cannot hide its backlog
//   from the latency figures); a full window skips the send and counts it.
//
// Deliveries and latencies count the copies of messages stamped inside the
// measurement window, wherever they are received; the drain waits for the
// stragglers. Loss, duplication and reordering are checked for every
// message of the run, per receiver and per publisher.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_options.h"
#include "latency_histogram.h"
#include "scenario.h"
#include "sequence_tracker.h"
#include "session_pool.h"

namespace bench {

class StreamScenario final : public Scenario {
 public:
  StreamScenario(const BenchOptions& options, SessionPool& pool);

  void begin(std::int64_t now) override;
  void on_tick(std::int64_t now) override;
  std::int64_t next_wakeup_ns() const override;
  bool finished() const override { return phase_ == Phase::kDone; }
  void abort(const std::string& reason) override;
  int report() override;

  void on_ready(std::size_t session) override;
  void on_unready(std::size_t session) override;
  void on_activity(std::size_t session, const ActivityStamp& stamp) override;
  void on_register_reply(std::size_t, bool, std::string_view) override {}
  void on_failure(std::size_t session, const std::string& reason) override;

 private:
  enum class Phase { kConnecting, kSyncing, kWarmup, kMeasuring, kDraining, kDone };

  struct Publisher {
    std::size_t session = 0;
    std::int64_t sent = 0;    // sequence numbers 0 .. sent-1 are out
    std::int64_t acked = 0;   // own copies received back
    std::int64_t slots = 0;   // fixed rate: schedule slots used (sent or missed)
    std::int64_t missed = 0;  // fixed rate: slots skipped, window full
    std::int64_t offset_ns = 0;
    std::int64_t next_due_ns = -1;
  };

  bool max_throughput() const { return options_.rate <= 0; }
  bool sending() const { return phase_ == Phase::kWarmup || phase_ == Phase::kMeasuring; }
  bool in_window(std::int64_t stamp_ns) const {
    return stamp_ns >= measure_start_ && stamp_ns < measure_end_;
  }
  void start_sending(std::int64_t now);
  void publish_one(Publisher& publisher, std::int64_t stamp_ns);
  void fill_window(Publisher& publisher, std::int64_t now);
  void run_schedule(std::int64_t now);
  void update_due(Publisher& publisher);
  void send_probes(std::int64_t now);
  std::uint64_t expected_receptions() const;
  void show_progress(std::int64_t now);
  const char* phase_name() const;

  const BenchOptions& options_;
  SessionPool& pool_;
  const std::int64_t window_;
  double period_ns_ = 0;  // fixed rate: time between two sends of a publisher

  Phase phase_ = Phase::kConnecting;
  std::string error_;
  std::vector<Publisher> publishers_;
  std::size_t receivers_ = 0;
  std::vector<SequenceTracker> trackers_;  // [receiver * publishers + publisher]
  std::vector<bool> probe_seen_;           // same layout
  std::vector<std::size_t> probes_per_receiver_;
  std::size_t ready_ = 0;
  std::size_t synced_ = 0;

  std::int64_t start_ns_ = 0;
  std::int64_t last_ready_ns_ = 0;  // last change of the number of ready clients
  std::int64_t sync_deadline_ = 0;
  std::int64_t next_probe_ns_ = 0;
  std::int64_t schedule_start_ = 0;
  std::int64_t measure_start_ = INT64_MAX;
  std::int64_t measure_end_ = INT64_MAX;
  std::int64_t drain_deadline_ = 0;
  std::int64_t next_progress_ns_ = 0;
  std::int64_t cpu_at_measure_start_ = -1;
  std::int64_t cpu_at_measure_end_ = -1;

  std::uint64_t unique_received_ = 0;
  std::uint64_t duplicated_ = 0;
  std::uint64_t reordered_ = 0;
  std::uint64_t foreign_ = 0;
  std::uint64_t published_in_window_ = 0;
  std::uint64_t deliveries_ = 0;
  LatencyHistogram latency_;

  std::uint64_t interval_published_ = 0;
  std::uint64_t interval_received_ = 0;
  LatencyHistogram interval_latency_;
};

}  // namespace bench
