// The registration round-trip scenario: see register_scenario.h.
#include "register_scenario.h"

#include <cstdio>
#include <iostream>
#include <random>

#include "clock.h"
#include "json_writer.h"

namespace bench {
namespace {

// A lock round times out after 10 s by default (PROTOCOL.md); wait longer
// than that before declaring the server stuck.
constexpr std::int64_t kReplyStallTimeoutNs = 30 * kNsPerSecond;

std::string random_hex(std::mt19937_64& random, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (int i = 0; i < digits; ++i) text += kHex[random() & 0xF];
  return text;
}

}  // namespace

RegisterScenario::RegisterScenario(const BenchOptions& options, SessionPool& pool)
    : options_(options), pool_(pool) {
  std::random_device seed;
  std::mt19937_64 random((static_cast<std::uint64_t>(seed()) << 32) ^ seed());
  name_prefix_ = "bench-" + random_hex(random, 10) + "-";
}

void RegisterScenario::begin(std::int64_t now) {
  start_ns_ = now;
  last_reply_ns_ = now;
  next_progress_ns_ = now + kNsPerSecond;
  const int sessions = std::min(options_.concurrency, options_.count);
  for (int i = 0; i < sessions; ++i) {
    const auto server = options_.servers[static_cast<std::size_t>(i) % options_.servers.size()];
    pool_.add(SessionRole::kRegister, server);
  }
  sent_ns_.assign(pool_.size(), 0);
  for (std::size_t i = 0; i < pool_.size(); ++i) pool_.start_now(i);
}

void RegisterScenario::on_ready(std::size_t session) {
  if (issued_ >= options_.count) {
    pool_.session(session).close();
    return;
  }
  const std::string username = name_prefix_ + std::to_string(issued_++);
  // The secret is not a credential anyone will use; it only has to be there.
  const std::string secret = "s" + username;
  sent_ns_[session] = now_ns();
  pool_.session(session).send_register(username, secret);
}

void RegisterScenario::on_register_reply(std::size_t session, bool success, std::string_view info) {
  const std::int64_t now = now_ns();
  rtt_.record(now - sent_ns_[session]);
  last_reply_ns_ = now;
  ++completed_;
  ++interval_completed_;
  if (success) {
    ++succeeded_;
  } else {
    ++failed_;
    if (first_refusal_.empty()) first_refusal_ = info.empty() ? "(no info)" : std::string(info);
  }
  pool_.session(session).close();
  if (completed_ >= options_.count) {
    done_ = true;
    end_ns_ = now;
  } else if (issued_ < options_.count) {
    pool_.start_now(session);
  }
}

void RegisterScenario::on_failure(std::size_t session, const std::string& reason) {
  abort("registration session " + std::to_string(session) + ": " + reason);
}

void RegisterScenario::abort(const std::string& reason) {
  if (error_.empty()) error_ = reason;
  done_ = true;
  end_ns_ = now_ns();
}

void RegisterScenario::on_tick(std::int64_t now) {
  if (!done_ && now - last_reply_ns_ > kReplyStallTimeoutNs) {
    abort("no REGISTER reply for 30 s");
  }
  if (now >= next_progress_ns_) {
    if (!options_.quiet) {
      print_progress(now - start_ns_, "registered " + std::to_string(completed_) + "/" +
                                          std::to_string(options_.count) + "  (" +
                                          std::to_string(interval_completed_) + "/s)  p50 " +
                                          format_duration(rtt_.percentile(50)) + "  failed " +
                                          std::to_string(failed_));
    }
    interval_completed_ = 0;
    next_progress_ns_ = now + kNsPerSecond;
  }
}

int RegisterScenario::report() {
  auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };
  const double seconds = static_cast<double>(end_ns_ - start_ns_) / kNsPerSecond;
  std::string text = "\nactivity-bench register: " + std::to_string(completed_) + " of " +
                     std::to_string(options_.count) + " registrations, " +
                     std::to_string(pool_.size()) + " at a time, on " +
                     endpoint_list_to_string(options_.servers) + "\n";
  char line[200];
  std::snprintf(line, sizeof line, "  succeeded %d, failed %d, in %.2f s\n", succeeded_, failed_,
                seconds);
  text += line;
  if (!first_refusal_.empty()) text += "  first REGISTER_FAILED: " + first_refusal_ + "\n";
  text += "  round trip, REGISTER to reply:\n" + rtt_.table("    ");
  if (!error_.empty()) text += "  ERROR: " + error_ + "\n";
  std::cerr << text << std::flush;

  JsonWriter json = result_json(options_);
  json.field("servers", endpoint_list_to_string(options_.servers))
      .field("registrations", completed_)
      .field("concurrency", static_cast<std::uint64_t>(pool_.size()))
      .field("succeeded", succeeded_)
      .field("failed", failed_)
      .number("rtt_p50_ms", ms(rtt_.percentile(50)), 3)
      .number("rtt_p90_ms", ms(rtt_.percentile(90)), 3)
      .number("rtt_p99_ms", ms(rtt_.percentile(99)), 3)
      .number("rtt_max_ms", ms(rtt_.max()), 3)
      .number("rtt_mean_ms", rtt_.mean() / 1e6, 3)
      .number("elapsed_s", seconds, 3)
      .field("ok", error_.empty() && failed_ == 0)
      .field("error", error_.empty() && failed_ > 0 ? "REGISTER_FAILED: " + first_refusal_ : error_);
  std::cout << json.str() << std::endl;
  return error_.empty() && failed_ == 0 ? kExitOk : kExitFailure;
}

}  // namespace bench
