// The publish/subscribe scenario: see stream_scenario.h.
#include "stream_scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "clock.h"
#include "json_writer.h"

namespace bench {
namespace {

constexpr std::int64_t kProbeIntervalNs = 50 * kNsPerMs;
constexpr std::int64_t kSyncTimeoutNs = 15 * kNsPerSecond;

}  // namespace

StreamScenario::StreamScenario(const BenchOptions& options, SessionPool& pool)
    : options_(options), pool_(pool), window_(options.effective_window()) {
  if (!max_throughput()) period_ns_ = static_cast<double>(kNsPerSecond) / options_.rate;
}

void StreamScenario::begin(std::int64_t now) {
  start_ns_ = now;
  last_ready_ns_ = now;
  next_progress_ns_ = now + kNsPerSecond;
  const auto publisher_count = static_cast<std::size_t>(options_.publishers);
  publishers_.resize(publisher_count);
  for (std::size_t p = 0; p < publisher_count; ++p) {
    publishers_[p].session =
        pool_.add(SessionRole::kStream, options_.pub_servers[p % options_.pub_servers.size()]);
  }
  std::vector<std::size_t> subscribers;
  for (int s = 0; s < options_.subscribers; ++s) {
    const auto i = static_cast<std::size_t>(s);
    subscribers.push_back(pool_.add(SessionRole::kStream, options_.servers[i % options_.servers.size()]));
  }
  receivers_ = pool_.size();
  trackers_.resize(receivers_ * publisher_count);
  probe_seen_.assign(receivers_ * publisher_count, false);
  probes_per_receiver_.assign(receivers_, 0);
  // Subscribers log in first, so that publishers find their servers loaded.
  for (const std::size_t index : subscribers) pool_.enqueue_start(index);
  for (const Publisher& publisher : publishers_) pool_.enqueue_start(publisher.session);
}

void StreamScenario::abort(const std::string& reason) {
  if (error_.empty()) error_ = reason;
  if (sending()) {
    // The window ends here: report what was measured, not what was planned.
    const std::int64_t now = now_ns();
    measure_end_ = std::max(measure_start_, std::min(measure_end_, now));
    if (cpu_at_measure_start_ >= 0) cpu_at_measure_end_ = process_cpu_ns();
  }
  phase_ = Phase::kDone;
}

void StreamScenario::on_ready(std::size_t) {
  ++ready_;
  last_ready_ns_ = now_ns();
}

void StreamScenario::on_unready(std::size_t session) {
  --ready_;
  last_ready_ns_ = now_ns();
  // Before the probes, a redirect only delays the start; after, the client
  // would miss messages while it logs in again.
  if (phase_ != Phase::kConnecting) {
    abort("client " + std::to_string(session) + " was redirected after the run had started");
  }
}

void StreamScenario::on_failure(std::size_t session, const std::string& reason) {
  const bool is_publisher = session < publishers_.size();
  abort(std::string(is_publisher ? "publisher " : "subscriber ") + std::to_string(session) + ": " +
        reason);
}

void StreamScenario::on_activity(std::size_t session, const ActivityStamp& stamp) {
  const auto publisher_count = static_cast<std::int64_t>(publishers_.size());
  if (stamp.publisher < 0 || stamp.publisher >= publisher_count) {
    ++foreign_;
    return;
  }
  const auto p = static_cast<std::size_t>(stamp.publisher);
  const std::size_t slot = session * publishers_.size() + p;
  Publisher& publisher = publishers_[p];
  if (stamp.sequence == kProbeSequence) {
    if (phase_ == Phase::kSyncing && !probe_seen_[slot]) {
      probe_seen_[slot] = true;
      if (++probes_per_receiver_[session] == publishers_.size()) ++synced_;
    }
    return;
  }
  if (stamp.sequence < 0 || stamp.sequence >= publisher.sent) {
    ++foreign_;  // not a number this run has sent
    return;
  }
  switch (trackers_[slot].record(stamp.sequence)) {
    case SequenceTracker::Outcome::kDuplicate:
      ++duplicated_;
      return;
    case SequenceTracker::Outcome::kReordered:
      ++reordered_;
      break;
    case SequenceTracker::Outcome::kInOrder:
    case SequenceTracker::Outcome::kAhead:
      break;
  }
  ++unique_received_;
  const std::int64_t now = now_ns();
  const std::int64_t latency = now - stamp.sent_ns;
  ++interval_received_;
  interval_latency_.record(latency);
  if (in_window(stamp.sent_ns)) {
    ++deliveries_;
    latency_.record(latency);
  }
  if (session == publisher.session) {
    ++publisher.acked;
    if (max_throughput() && sending() && now < measure_end_) fill_window(publisher, now);
  }
}

void StreamScenario::publish_one(Publisher& publisher, std::int64_t stamp_ns) {
  ActivityStamp stamp;
  stamp.publisher = static_cast<std::int64_t>(&publisher - publishers_.data());
  stamp.sequence = publisher.sent;
  stamp.sent_ns = stamp_ns;
  if (!pool_.session(publisher.session).publish(stamp, options_.activity_size)) {
    abort("publisher " + std::to_string(stamp.publisher) + " is not logged in");
    return;
  }
  ++publisher.sent;
  ++interval_published_;
  if (in_window(stamp_ns)) ++published_in_window_;
}

void StreamScenario::fill_window(Publisher& publisher, std::int64_t now) {
  while (publisher.sent - publisher.acked < window_ && phase_ != Phase::kDone) {
    publish_one(publisher, now);
  }
}

void StreamScenario::send_probes(std::int64_t now) {
  for (std::size_t p = 0; p < publishers_.size(); ++p) {
    ActivityStamp probe;
    probe.publisher = static_cast<std::int64_t>(p);
    probe.sequence = kProbeSequence;
    probe.sent_ns = now;
    pool_.session(publishers_[p].session).publish(probe, options_.activity_size);
  }
  next_probe_ns_ = now + kProbeIntervalNs;
}

void StreamScenario::start_sending(std::int64_t now) {
  schedule_start_ = now;
  measure_start_ = now + seconds_to_ns(options_.warmup_s);
  measure_end_ = measure_start_ + seconds_to_ns(options_.duration_s);
  phase_ = measure_start_ > now ? Phase::kWarmup : Phase::kMeasuring;
  if (phase_ == Phase::kMeasuring) {
    cpu_at_measure_start_ = process_cpu_ns();
    touch_ready_file(options_.ready_file);
  }
  const double count = static_cast<double>(publishers_.size());
  for (std::size_t p = 0; p < publishers_.size(); ++p) {
    Publisher& publisher = publishers_[p];
    if (max_throughput()) {
      fill_window(publisher, now);
    } else {
      // Spread the publishers' schedules evenly over one period.
      publisher.offset_ns = std::llround(period_ns_ * static_cast<double>(p) / count);
      update_due(publisher);
    }
  }
  if (!max_throughput()) run_schedule(now);
}

void StreamScenario::update_due(Publisher& publisher) {
  publisher.next_due_ns = schedule_start_ + publisher.offset_ns +
                          std::llround(period_ns_ * static_cast<double>(publisher.slots));
}

void StreamScenario::run_schedule(std::int64_t now) {
  for (Publisher& publisher : publishers_) {
    while (publisher.next_due_ns <= now && publisher.next_due_ns < measure_end_) {
      if (publisher.sent - publisher.acked < window_) {
        publish_one(publisher, publisher.next_due_ns);
      } else {
        ++publisher.missed;
      }
      ++publisher.slots;
      update_due(publisher);
    }
  }
}

std::uint64_t StreamScenario::expected_receptions() const {
  std::uint64_t sent = 0;
  for (const Publisher& publisher : publishers_) sent += static_cast<std::uint64_t>(publisher.sent);
  return sent * receivers_;
}

void StreamScenario::on_tick(std::int64_t now) {
  switch (phase_) {
    case Phase::kConnecting:
      if (ready_ == receivers_ && now - last_ready_ns_ >= kLoginSettleNs) {
        phase_ = Phase::kSyncing;
        sync_deadline_ = now + kSyncTimeoutNs;
        send_probes(now);
      } else if (now - last_ready_ns_ > kReadyStallTimeoutNs) {
        abort("no client became ready for 30 s (" + std::to_string(ready_) + " of " +
              std::to_string(receivers_) + " ready)");
      }
      break;
    case Phase::kSyncing:
      if (synced_ == receivers_) {
        start_sending(now);
      } else if (now >= sync_deadline_) {
        abort("probes did not reach every client within 15 s (" + std::to_string(synced_) +
              " of " + std::to_string(receivers_) + " reached)");
      } else if (now >= next_probe_ns_) {
        send_probes(now);
      }
      break;
    case Phase::kWarmup:
    case Phase::kMeasuring:
      if (phase_ == Phase::kWarmup && now >= measure_start_) {
        phase_ = Phase::kMeasuring;
        cpu_at_measure_start_ = process_cpu_ns();
        touch_ready_file(options_.ready_file);
      }
      if (!max_throughput()) run_schedule(now);
      if (now >= measure_end_) {
        cpu_at_measure_end_ = process_cpu_ns();
        phase_ = Phase::kDraining;
        drain_deadline_ = now + seconds_to_ns(options_.drain_s);
      }
      break;
    case Phase::kDraining:
      if (unique_received_ >= expected_receptions() || now >= drain_deadline_) phase_ = Phase::kDone;
      break;
    case Phase::kDone:
      break;
  }
  if (now >= next_progress_ns_ && phase_ != Phase::kDone) {
    show_progress(now);
    next_progress_ns_ += kNsPerSecond;
    if (next_progress_ns_ <= now) next_progress_ns_ = now + kNsPerSecond;
  }
}

std::int64_t StreamScenario::next_wakeup_ns() const {
  std::int64_t wake = next_progress_ns_;
  auto consider = [&wake](std::int64_t t) { wake = std::min(wake, t); };
  switch (phase_) {
    case Phase::kSyncing:
      consider(next_probe_ns_);
      consider(sync_deadline_);
      break;
    case Phase::kWarmup:
    case Phase::kMeasuring:
      if (phase_ == Phase::kWarmup) consider(measure_start_);
      consider(measure_end_);
      if (!max_throughput()) {
        for (const Publisher& publisher : publishers_) consider(publisher.next_due_ns);
      }
      break;
    case Phase::kDraining:
      consider(drain_deadline_);
      break;
    case Phase::kConnecting:
      if (ready_ == receivers_) consider(last_ready_ns_ + kLoginSettleNs);
      break;
    case Phase::kDone:
      break;
  }
  return wake;
}

const char* StreamScenario::phase_name() const {
  switch (phase_) {
    case Phase::kConnecting: return "connecting";
    case Phase::kSyncing: return "syncing";
    case Phase::kWarmup: return "warm-up";
    case Phase::kMeasuring: return "measuring";
    case Phase::kDraining: return "draining";
    case Phase::kDone: break;
  }
  return "done";
}

void StreamScenario::show_progress(std::int64_t now) {
  if (options_.quiet) return;
  std::string text = std::string(phase_name()) + "  ";
  if (phase_ == Phase::kConnecting) {
    text += "ready " + std::to_string(ready_) + "/" + std::to_string(receivers_) + "  redirects " +
            std::to_string(pool_.total_redirects());
  } else if (phase_ == Phase::kSyncing) {
    text += "probed " + std::to_string(synced_) + "/" + std::to_string(receivers_);
  } else {
    std::int64_t in_flight = 0;
    for (const Publisher& publisher : publishers_) in_flight += publisher.sent - publisher.acked;
    text += "published " + format_thousands(static_cast<double>(interval_published_)) +
            "/s  received " + format_thousands(static_cast<double>(interval_received_)) + "/s";
    if (interval_latency_.count() > 0) {
      text += "  latency p50 " + format_duration(interval_latency_.percentile(50)) + " p99 " +
              format_duration(interval_latency_.percentile(99)) + " max " +
              format_duration(interval_latency_.max());
    }
    text += "  unacked " + std::to_string(in_flight);
    if (phase_ == Phase::kDraining) {
      text += "  outstanding " +
              std::to_string(expected_receptions() - std::min(expected_receptions(), unique_received_));
    }
    if (duplicated_ + reordered_ > 0) {
      text += "  duplicated " + std::to_string(duplicated_) + " reordered " + std::to_string(reordered_);
    }
  }
  print_progress(now - start_ns_, text);
  interval_published_ = 0;
  interval_received_ = 0;
  interval_latency_.reset();
}

int StreamScenario::report() {
  std::uint64_t lost = 0;
  std::int64_t missed = 0;
  std::uint64_t published = 0;
  for (std::size_t p = 0; p < publishers_.size(); ++p) {
    missed += publishers_[p].missed;
    published += static_cast<std::uint64_t>(publishers_[p].sent);
    for (std::size_t r = 0; r < receivers_; ++r) {
      lost += trackers_[r * publishers_.size() + p].missing(publishers_[p].sent);
    }
  }
  const bool measured = measure_end_ != INT64_MAX;
  const double seconds =
      measured ? static_cast<double>(measure_end_ - measure_start_) / kNsPerSecond : 0.0;
  const double published_rate = seconds > 0 ? static_cast<double>(published_in_window_) / seconds : 0;
  const double delivery_rate = seconds > 0 ? static_cast<double>(deliveries_) / seconds : 0;
  const bool intact = lost == 0 && duplicated_ == 0 && reordered_ == 0;
  // Share of one core the bench itself used while measuring: near 100%, the
  // figures are the tool's limit rather than the server's.
  const double cpu_percent =
      cpu_at_measure_start_ >= 0 && cpu_at_measure_end_ >= 0 && seconds > 0
          ? 100.0 * static_cast<double>(cpu_at_measure_end_ - cpu_at_measure_start_) /
                (seconds * kNsPerSecond)
          : 0.0;
  const LatencyHistogram logins = pool_.login_times();
  auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
  auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };

  const std::string mode =
      max_throughput() ? "maximum throughput" : format_thousands(options_.rate) + "/s per publisher";
  std::string text = "\nactivity-bench stream (" + std::string(system_name(options_.system)) + "): " +
                     std::to_string(options_.publishers) + " publishers x " +
                     std::to_string(options_.subscribers) + " subscribers, " +
                     std::to_string(options_.activity_size) + "-byte activities, " + mode +
                     ", window " + std::to_string(window_) + "\n";
  text += "  subscribers on  " + endpoint_list_to_string(options_.servers) + "\n";
  text += "  publishers on   " + endpoint_list_to_string(options_.pub_servers) + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "  measured        %.2f s after %.2f s of warm-up\n", seconds,
                options_.warmup_s);
  text += line;
  text += "  published       " + format_thousands(published_rate) + "/s (" +
          format_thousands(static_cast<double>(published_in_window_)) + " in the window, " +
          format_thousands(static_cast<double>(published)) + " in all)\n";
  text += "  deliveries      " + format_thousands(delivery_rate) + "/s (" +
          format_thousands(static_cast<double>(deliveries_)) + " copies received by " +
          std::to_string(receivers_) + " clients)\n";
  text += "  integrity       lost " + std::to_string(lost) + ", duplicated " +
          std::to_string(duplicated_) + ", reordered " + std::to_string(reordered_) +
          (intact ? "  (ok)" : "  (FAILED)") + "\n";
  text += "  other           missed sends " + std::to_string(missed) + ", redirects " +
          std::to_string(pool_.total_redirects()) + ", foreign activities " +
          std::to_string(foreign_) + ", login p50 " + format_duration(logins.percentile(50)) +
          " max " + format_duration(logins.max()) + "\n";
  std::snprintf(line, sizeof line, "  bench CPU       %.0f%% of one core while measuring%s\n", cpu_percent,
                cpu_percent > 90 ? " (the tool may be the bottleneck)" : "");
  text += line;
  text += "  latency, send to receipt (every receiver):\n" + latency_.table("    ");
  if (!error_.empty()) text += "  ERROR: " + error_ + "\n";
  std::cerr << text << std::flush;

  JsonWriter json = result_json(options_);
  json.field("publishers", options_.publishers)
      .field("subscribers", options_.subscribers)
      .field("receivers", static_cast<std::uint64_t>(receivers_))
      .field("servers", endpoint_list_to_string(options_.servers))
      .field("pub_servers", endpoint_list_to_string(options_.pub_servers))
      .field("activity_bytes", static_cast<std::uint64_t>(options_.activity_size))
      .field("mode", max_throughput() ? "max" : "rate")
      .number("rate_per_publisher", options_.rate, 1)
      .field("window", window_)
      .number("warmup_s", options_.warmup_s, 3)
      .number("duration_s", seconds, 3)
      .field("published", published_in_window_)
      .number("published_per_s", published_rate, 1)
      .field("deliveries", deliveries_)
      .number("deliveries_per_s", delivery_rate, 1)
      .number("latency_p50_us", us(latency_.percentile(50)), 1)
      .number("latency_p90_us", us(latency_.percentile(90)), 1)
      .number("latency_p99_us", us(latency_.percentile(99)), 1)
      .number("latency_p999_us", us(latency_.percentile(99.9)), 1)
      .number("latency_max_us", us(latency_.max()), 1)
      .number("latency_mean_us", latency_.mean() / 1e3, 1)
      .field("lost", lost)
      .field("duplicated", duplicated_)
      .field("reordered", reordered_)
      .field("missed_sends", missed)
      .field("foreign", foreign_)
      .field("redirects", pool_.total_redirects())
      .number("login_p50_ms", ms(logins.percentile(50)), 3)
      .number("login_max_ms", ms(logins.max()), 3)
      .number("bench_cpu_percent", cpu_percent, 1)
      .field("ok", error_.empty() && intact)
      .field("error", error_);
  std::cout << json.str() << std::endl;

  if (!error_.empty()) return kExitFailure;
  return intact ? kExitOk : kExitIntegrity;
}

}  // namespace bench
