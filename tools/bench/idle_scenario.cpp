// The idle-clients scenario: see idle_scenario.h.
#include "idle_scenario.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "clock.h"
#include "json_writer.h"

namespace bench {

IdleScenario::IdleScenario(const BenchOptions& options, SessionPool& pool)
    : options_(options), pool_(pool) {}

void IdleScenario::begin(std::int64_t now) {
  start_ns_ = now;
  last_ready_ns_ = now;
  next_progress_ns_ = now + kNsPerSecond;
  for (int i = 0; i < options_.clients; ++i) {
    const auto server = options_.servers[static_cast<std::size_t>(i) % options_.servers.size()];
    pool_.enqueue_start(pool_.add(SessionRole::kIdle, server));
  }
}

void IdleScenario::on_ready(std::size_t) {
  ++ready_;
  last_ready_ns_ = now_ns();
}

void IdleScenario::on_unready(std::size_t) {
  --ready_;
  last_ready_ns_ = now_ns();
}

void IdleScenario::on_failure(std::size_t session, const std::string& reason) {
  abort("client " + std::to_string(session) + ": " + reason);
}

void IdleScenario::abort(const std::string& reason) {
  if (error_.empty()) error_ = reason;
  done_ = true;
}

std::int64_t IdleScenario::next_wakeup_ns() const {
  if (hold_end_ns_ >= 0) return std::min(hold_end_ns_, next_progress_ns_);
  if (ready_ == pool_.size()) return std::min(last_ready_ns_ + kLoginSettleNs, next_progress_ns_);
  return next_progress_ns_;
}

void IdleScenario::on_tick(std::int64_t now) {
  if (hold_end_ns_ < 0 && ready_ == pool_.size() && now - last_ready_ns_ >= kLoginSettleNs) {
    all_ready_ns_ = last_ready_ns_;
    hold_end_ns_ = now + seconds_to_ns(options_.duration_s);
    touch_ready_file(options_.ready_file);
    if (!options_.quiet) {
      print_progress(now - start_ns_,
                     "all " + std::to_string(ready_) + " clients logged in; holding them");
    }
  }
  if (hold_end_ns_ >= 0 && now >= hold_end_ns_) {
    done_ = true;
  } else if (all_ready_ns_ < 0 && now - last_ready_ns_ > kReadyStallTimeoutNs) {
    abort("no client became ready for 30 s (" + std::to_string(ready_) + " of " +
          std::to_string(pool_.size()) + " ready)");
  }
  if (now >= next_progress_ns_) {
    if (!options_.quiet) {
      print_progress(now - start_ns_, (all_ready_ns_ < 0 ? "logging in  ready " : "holding  ") +
                                          std::to_string(ready_) + "/" +
                                          std::to_string(pool_.size()) + "  redirects " +
                                          std::to_string(pool_.total_redirects()));
    }
    next_progress_ns_ = now + kNsPerSecond;
  }
}

int IdleScenario::report() {
  const LatencyHistogram logins = pool_.login_times();
  auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };
  const double all_s =
      all_ready_ns_ >= 0 ? static_cast<double>(all_ready_ns_ - start_ns_) / kNsPerSecond : 0.0;
  std::string text = "\nactivity-bench idle (" + std::string(system_name(options_.system)) +
                     "): " + std::to_string(ready_) + " of " + std::to_string(pool_.size()) +
                     " clients logged in on " + endpoint_list_to_string(options_.servers) + "\n";
  char line[200];
  std::snprintf(line, sizeof line, "  all logged in after %.2f s, held %.2f s, redirects %llu\n",
                all_s, options_.duration_s,
                static_cast<unsigned long long>(pool_.total_redirects()));
  text += line;
  text += "  login time, connect to LOGIN_SUCCESS (NATS: to PONG):\n" + logins.table("    ");
  if (!error_.empty()) text += "  ERROR: " + error_ + "\n";
  std::cerr << text << std::flush;

  JsonWriter json = result_json(options_);
  json.field("servers", endpoint_list_to_string(options_.servers))
      .field("clients", options_.clients)
      .field("logged_in", static_cast<std::uint64_t>(ready_))
      .number("login_all_s", all_s, 3)
      .number("login_p50_ms", ms(logins.percentile(50)), 3)
      .number("login_p90_ms", ms(logins.percentile(90)), 3)
      .number("login_p99_ms", ms(logins.percentile(99)), 3)
      .number("login_max_ms", ms(logins.max()), 3)
      .number("hold_s", options_.duration_s, 3)
      .field("redirects", pool_.total_redirects())
      .field("broadcasts_received", broadcasts_)
      .field("ok", error_.empty())
      .field("error", error_);
  std::cout << json.str() << std::endl;
  return error_.empty() ? kExitOk : kExitFailure;
}

}  // namespace bench
