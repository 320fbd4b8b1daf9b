// The chaos test (issue "Servers fail"): a tree of 7 server processes with
// continuous traffic from publishers that reconnect wherever they can, and
// a listener on every live server. In a seeded loop of steps, one server is
// killed with SIGKILL, frozen with SIGSTOP (thawed at the next step), or
// restarted at its old port; after each step the live servers must form one
// tree again within a deadline, and no listener may ever receive the same
// activity twice. CHAOS_SEED and CHAOS_STEPS reproduce or lengthen a run.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>

#include "cluster.h"

namespace activity::test {
namespace {

// The first few duplicated activity ids, for a failure message.
std::string describe(const std::vector<std::string>& ids) {
  std::string out = std::to_string(ids.size()) + " duplicated:";
  for (std::size_t i = 0; i < ids.size() && i < 10; ++i) out += " " + ids[i];
  return out;
}

// Publishers: each logs in anonymously wherever it can (following no
// redirect: a redirected publisher just logs in again elsewhere) and sends
// uniquely numbered activities, reading what comes back so that it is
// never dropped as a slow consumer.
class Publishers {
 public:
  Publishers(std::vector<std::uint16_t> ports, std::size_t count, unsigned seed)
      : ports_(std::move(ports)) {
    for (std::size_t i = 0; i < count; ++i) {
      threads_.emplace_back([this, i, seed] { run(i, seed + static_cast<unsigned>(i)); });
    }
  }
  ~Publishers() {
    stop_ = true;
    for (std::thread& thread : threads_) thread.join();
  }
  std::size_t sent() const { return sent_; }

 private:
  void run(std::size_t index, unsigned seed) {
    std::mt19937 random(seed);
    std::unique_ptr<LineClient> client;
    std::size_t sequence = 0;
    while (!stop_) {
      if (!client) {
        const std::uint16_t port = ports_[random() % ports_.size()];
        try {
          client = std::make_unique<LineClient>(port);
        } catch (const std::exception&) {
          continue;
        }
        if (!client->login("anonymous", "")) {
          client.reset();
          continue;
        }
      }
      client->send_raw(encode_activity_message(
          "anonymous", std::nullopt,
          "{\"id\":\"pub" + std::to_string(index) + "-" + std::to_string(++sequence) + "\"}"));
      ++sent_;
      // Paces the publisher and reads what came back.
      while (client->read_message(10ms)) {
      }
      if (client->wait_closed(0ms)) client.reset();
    }
  }

  std::vector<std::uint16_t> ports_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> sent_{0};
  std::vector<std::thread> threads_;
};

unsigned env_number(const char* name, unsigned fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? static_cast<unsigned>(std::strtoul(value, nullptr, 10)) : fallback;
}

}  // namespace

TEST_CASE("chaos: kill, freeze and restart servers while traffic flows") {
  const unsigned seed = env_number("CHAOS_SEED", 20261203);
  const unsigned steps = env_number("CHAOS_STEPS", 20);
  MESSAGE("CHAOS_SEED=", seed, " CHAOS_STEPS=", steps);
  std::mt19937 random(seed);

  // 0 is the root; 1 and 2 its children; 3, 4 under 1; 5, 6 under 2.
  Cluster cluster;
  const std::size_t parents[] = {0, 0, 0, 1, 1, 2, 2};
  for (std::size_t i = 0; i < 7; ++i) {
    std::string why;
    REQUIRE_MESSAGE(cluster.start(i, i == 0 ? std::nullopt : std::optional<std::size_t>(parents[i]), &why),
                    why);
  }
  for (std::size_t i = 0; i < 7; ++i) REQUIRE(cluster.listen(i));
  std::string missing;
  REQUIRE_MESSAGE(cluster.one_tree(10000ms, &missing), missing);
  // Past every server's start-up grace: from now on links heal.
  cluster.drain(2100ms);

  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < 7; ++i) ports.push_back(cluster.at(i).port);
  Publishers publishers(ports, 2, seed);

  constexpr std::size_t kNone = SIZE_MAX;
  std::size_t frozen = kNone;  // the server frozen at the last step
  auto restarted = std::chrono::steady_clock::now() - kStartupLinkGrace;
  for (unsigned step = 1; step <= steps; ++step) {
    if (frozen != kNone) {
      cluster.thaw(frozen);
      frozen = kNone;
    }
    std::vector<std::size_t> up = cluster.live();
    std::vector<std::size_t> down;
    for (std::size_t i = 0; i < cluster.size(); ++i) {
      if (!cluster.at(i).running()) down.push_back(i);
    }
    // Keep at least four servers running; restart when many are down.
    unsigned action = random() % 3;
    if (up.size() <= 4 && !down.empty()) action = 2;
    if (action == 2 && down.empty()) action = random() % 2;
    std::string what;
    if (action == 0) {
      const std::size_t victim = up[random() % up.size()];
      cluster.kill(victim);
      what = "kill -9 server " + std::to_string(victim);
    } else if (action == 1) {
      const std::size_t victim = up[random() % up.size()];
      cluster.freeze(victim);
      frozen = victim;
      what = "SIGSTOP server " + std::to_string(victim);
    } else {
      const std::size_t back = down[random() % down.size()];
      const std::size_t parent = up[random() % up.size()];
      std::string why;
      REQUIRE_MESSAGE(cluster.start(back, parent, &why), why);
      restarted = std::chrono::steady_clock::now();
      what = "restart server " + std::to_string(back) + " at port " +
             std::to_string(cluster.at(back).port) + " joining " + std::to_string(parent);
    }
    INFO("step ", step, ": ", what);
    const bool whole = cluster.one_tree(15000ms, &missing);
    CHECK_MESSAGE(whole, missing);
    CHECK_MESSAGE(cluster.duplicates().empty(), describe(cluster.duplicates()));
    // No server died that was not killed.
    for (std::size_t i = 0; i < cluster.size(); ++i) {
      ClusterServer& server = cluster.at(i);
      if (server.running() && !server.frozen) CHECK_MESSAGE(server.process->running(), i);
    }
    if (!whole) {
      MESSAGE(cluster.logs());
      break;
    }
    // A restarted server whose parent dies within its start-up grace exits
    // (PROTOCOL.md section 3): the next step waits for the grace to pass.
    cluster.drain(std::chrono::duration_cast<Millis>(
        restarted + kStartupLinkGrace + 100ms - std::chrono::steady_clock::now()));
    MESSAGE("step ", step, ": ", what, ": one tree of ", cluster.live().size(), " live servers");
  }
  if (frozen != kNone) cluster.thaw(frozen);
  CHECK(cluster.one_tree(15000ms, &missing));
  CHECK_MESSAGE(cluster.duplicates().empty(), describe(cluster.duplicates()));
  CHECK(publishers.sent() > 0);
  MESSAGE("activities received by listeners: ", cluster.received(),
          ", sent by publishers: ", publishers.sent());
}

}  // namespace activity::test
