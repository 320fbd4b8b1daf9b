// heal-bench: how long the network takes to heal (tools/bench/README.md,
// "Healing"). Builds a binary tree of N server processes with announce
// interval A, kills (SIGKILL) or freezes (SIGSTOP) server 1, the root's
// first child, and measures the time from the signal to the first activity
// sent from below it (server 3) that a listener on the other side of the
// root (server 2) receives; R times, on a fresh tree each time.
//
//   HEAL_SERVERS=7 HEAL_ANNOUNCE=200 HEAL_MODE=kill HEAL_RUNS=20
//     ACTIVITY_SERVER=build/src/activity-server build/tests/chaos/heal-bench
//   (all on one command line)
//
// Prints one line per run and the median and worst, in milliseconds. It is
// a doctest program only for the test support it shares; it is not a test
// (no timing is ever asserted) and meson does not run it.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cluster.h"

using namespace activity;
using namespace activity::test;

namespace {

using Clock = std::chrono::steady_clock;

double millis_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Sends from server 3 every 5 ms until server 2's listener receives one
// sent after `start`; returns the time since `start`, or -1 after `limit`.
double first_delivery(Cluster& cluster, Clock::time_point start, Millis limit) {
  std::size_t sequence = 0;
  const std::string prefix = "heal-" + std::to_string(start.time_since_epoch().count()) + "-";
  while (Clock::now() - start < limit) {
    if (!cluster.at(3).listener) cluster.listen(3, 1000ms);
    if (!cluster.at(2).listener) cluster.listen(2, 1000ms);
    if (cluster.at(3).listener) {
      cluster.at(3).listener->send_raw(encode_activity_message(
          "anonymous", std::nullopt,
          "{\"id\":\"" + prefix + std::to_string(++sequence) + "\"}"));
    }
    const auto until = Clock::now() + 5ms;
    while (Clock::now() < until && cluster.at(2).listener) {
      std::optional<Message> message = cluster.at(2).listener->read_message(1ms);
      if (message && message->command == Command::kActivityBroadcast &&
          activity_id(message->activity).rfind(prefix, 0) == 0) {
        return millis_since(start);
      }
    }
    if (cluster.at(3).listener) {
      while (cluster.at(3).listener->read_message(0ms)) {
      }
    }
  }
  return -1;
}

std::string setting(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

int bench() {
  const std::size_t servers = std::stoul(setting("HEAL_SERVERS", "7"));
  const std::string announce = setting("HEAL_ANNOUNCE", "200");
  const std::string mode = setting("HEAL_MODE", "kill");
  const int runs = std::stoi(setting("HEAL_RUNS", "20"));
  if (servers < 4 || (mode != "kill" && mode != "stop") || runs < 1) {
    std::fprintf(stderr, "heal-bench: need at least 4 servers, kill or stop, 1 run\n");
    return 2;
  }
  const Millis settle = std::max(Millis(std::stol(announce)) * 3, 3000ms);
  std::vector<double> times;
  for (int run = 1; run <= runs; ++run) {
    // A fresh tree each run, so that server 3 is below server 1 again.
    Cluster cluster({"-a", announce});
    for (std::size_t i = 0; i < servers; ++i) {
      std::string why;
      if (!cluster.start(i, i == 0 ? std::nullopt : std::optional<std::size_t>((i - 1) / 2),
                         &why)) {
        std::fprintf(stderr, "heal-bench: server %zu did not start: %s\n", i, why.c_str());
        return 1;
      }
    }
    for (std::size_t i = 0; i < servers; ++i) cluster.listen(i);
    if (!cluster.one_tree(settle * 4)) {
      std::fprintf(stderr, "heal-bench: the tree did not form\n");
      return 1;
    }
    cluster.drain(2100ms);  // every server past its start-up grace
    const auto start = Clock::now();
    if (mode == "kill") {
      cluster.kill(1);
    } else {
      cluster.freeze(1);
    }
    const double took = first_delivery(cluster, start, 60000ms);
    std::printf("run %d: %.1f ms\n", run, took);
    std::fflush(stdout);
    if (took < 0) return 1;
    times.push_back(took);
  }
  std::sort(times.begin(), times.end());
  std::printf("servers=%zu announce=%sms mode=%s runs=%d median=%.1f ms worst=%.1f ms\n",
              servers, announce.c_str(), mode.c_str(), runs, times[times.size() / 2],
              times.back());
  return 0;
}

}  // namespace

TEST_CASE("heal-bench") { CHECK(bench() == 0); }
