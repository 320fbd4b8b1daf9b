// Healing the tree (docs/features.md, "heal/1"): the healer thread of a
// server that has lost its parent link tries, round after round with
// exponential backoff and jitter, the parent's own address first (a server
// restarted where it was), then the servers remembered from outside its own
// subtree, ancestors first. Each attempt opens a joining link; the node
// decides on it from the target's root's answer (NodeState::handle_joining).
// Also the graceful stop, which hands clients on before the links close.
#include <random>

#include "log.h"
#include "server.h"
#include "tcp.h"

namespace activity {

void Server::enable_healing() {
  std::lock_guard<std::mutex> lock(heal_mutex_);
  healing_enabled_ = true;
  heal_event_ = true;
  heal_changed_.notify_all();
}

void Server::wake_healer() {
  std::lock_guard<std::mutex> lock(heal_mutex_);
  heal_event_ = true;
  heal_changed_.notify_all();
}

void Server::disable_healing() {
  std::lock_guard<std::mutex> lock(heal_mutex_);
  healing_enabled_ = false;
}

bool Server::healing_enabled() {
  std::lock_guard<std::mutex> lock(heal_mutex_);
  return healing_enabled_;
}

bool Server::heal_pause(Millis delay) {
  std::unique_lock<std::mutex> lock(heal_mutex_);
  heal_changed_.wait_for(lock, delay, [this] { return stopping_.load(); });
  return !stopping_;
}

void Server::run_healer() {
  std::minstd_rand jitter(std::random_device{}());
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(heal_mutex_);
      heal_changed_.wait(lock, [this] {
        return stopping_.load() || (healing_enabled_ && heal_event_);
      });
      if (stopping_) return;
      heal_event_ = false;
    }
    Millis backoff = options_.reconnect_min;
    bool first_round = true;
    while (!stopping_ && healing_enabled()) {
      std::vector<RejoinCandidate> candidates;
      bool parent_hung = false;
      const bool orphaned = node_->run([&](NodeState& node) {
        candidates = node.rejoin_candidates();
        parent_hung = node.parent_went_silent();
        return node.orphaned();
      });
      if (!orphaned) break;
      if (first_round) {
        log(LogLevel::kInfo, "rejoining the network: trying ", parent_host_, ":",
            parent_port_, " and ", candidates.size(), " remembered servers");
        first_round = false;
      }
      // The parent's address first (a server restarted in its place),
      // unless its link went silent: a hung parent still accepts
      // connections and would hold each round up for the join timeout.
      std::vector<std::pair<std::string, std::uint16_t>> order;
      const std::pair<std::string, std::uint16_t> parent{parent_host_, parent_port_};
      if (!parent_host_.empty() && !parent_hung) order.push_back(parent);
      for (const RejoinCandidate& candidate : candidates) {
        const std::pair<std::string, std::uint16_t> address{candidate.hostname,
                                                            candidate.port};
        if (std::find(order.begin(), order.end(), address) == order.end() &&
            !(parent_hung && address == parent)) {
          order.push_back(address);
        }
      }
      if (!parent_host_.empty() && parent_hung) order.push_back(parent);
      bool joined = false;
      for (const auto& [host, port] : order) {
        if (stopping_) return;
        if (try_join(host, port)) {
          joined = true;
          break;
        }
      }
      // The new parent link may already have closed again, and the wake-up
      // that said so been taken by the join: look again rather than wait
      // for an event that has passed. A join lost at once counts as a
      // failed round, so a target that keeps dropping us is not hammered.
      if (joined &&
          !node_->run([](const NodeState& node) { return node.orphaned(); })) {
        break;
      }
      // Jitter: a uniform delay in [backoff/2, backoff], so that orphans of
      // one failure do not retry in step.
      const auto half = backoff.count() / 2;
      std::uniform_int_distribution<long long> spread(half, backoff.count());
      if (!heal_pause(Millis(spread(jitter)))) return;
      backoff = std::min(options_.reconnect_max, backoff * 2);
    }
  }
}

bool Server::try_join(const std::string& host, std::uint16_t port) {
  const std::string peer = host + ":" + std::to_string(port);
  const TimePoint deadline = Clock::now() + kJoinTimeout;
  std::string error;
  const int fd = connect_tcp(host, port, kJoinTimeout, error);
  if (fd < 0) {
    log(LogLevel::kDebug, "rejoin through ", peer, ": ", error);
    return false;
  }
  if (!admit(fd, peer, Link::kJoining)) return false;
  for (;;) {
    const JoinOutcome outcome =
        node_->run([](const NodeState& node) { return node.join_outcome(); });
    if (outcome.state == JoinState::kJoined) {
      parent_host_ = host;
      parent_port_ = port;
      return true;
    }
    if (outcome.state != JoinState::kWaiting) {
      log(LogLevel::kDebug, "rejoin through ", peer, ": ", outcome.why);
      return false;
    }
    std::unique_lock<std::mutex> lock(heal_mutex_);
    const bool woken = heal_changed_.wait_until(lock, deadline, [this] {
      return stopping_.load() || heal_event_;
    });
    heal_event_ = false;
    lock.unlock();
    if (stopping_) return false;
    if (!woken) {
      node_->run([&](NodeState& node) {
        if (node.join_outcome().state == JoinState::kWaiting) {
          node.abandon_join("no answer from the target within the join timeout");
        }
      });
    }
  }
}

std::size_t Server::hand_off() {
  if (!node_) return 0;
  // No new client arrives after the hand-off has counted them (it would
  // be cut without a REDIRECT), and the links this server is about to
  // close must not be healed.
  stop_accepting();
  disable_healing();
  log(LogLevel::kInfo, "no longer accepting connections; handing clients on");
  const std::size_t redirected =
      node_->run([](NodeState& node) { return node.hand_off_clients(); });
  // The redirected clients' connections close once their REDIRECT is
  // written; wait for that, within the bound.
  const TimePoint deadline = Clock::now() + kHandOffBound;
  if (redirected > 0) {
    for (;;) {
      const NodeStats stats = node_->run([](const NodeState& node) { return node.stats(); });
      std::unique_lock<std::mutex> lock(conns_mutex_);
      const bool clients_gone = stats.load == 0 && open_connections_ <= stats.connections;
      if (clients_gone || Clock::now() >= deadline) break;
      timer_wake_.wait_until(lock, std::min(deadline, Clock::now() + kHousekeepingTick));
    }
  }
  node_->run([](NodeState& node) { node.close_links("server stopping"); });
  log(LogLevel::kInfo, "handed ", redirected, " clients on; links closed");
  return redirected;
}

}  // namespace activity
