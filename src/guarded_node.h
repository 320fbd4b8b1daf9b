// The node state and the one mutex that guards it (STYLE.md principle 4).
// Every access goes through run(), which holds the mutex for the call and
// defers the log lines written meanwhile until it is released, so that no
// thread ever writes a log line, or waits for the log, under the node lock.
#pragma once

#include <mutex>
#include <utility>

#include "log.h"
#include "node_state.h"

namespace activity {

class GuardedNode {
 public:
  explicit GuardedNode(NodeConfig config) : node_(std::move(config)) {}
  GuardedNode(const GuardedNode&) = delete;
  GuardedNode& operator=(const GuardedNode&) = delete;

  // Calls action(NodeState&) with the node mutex held and returns what it
  // returns. The action must not block: participants only enqueue.
  template <typename Action>
  auto run(Action&& action) {
    DeferredLog logs;  // destroyed last: emits after the unlock
    std::lock_guard<std::mutex> lock(mutex_);
    return action(node_);
  }
  template <typename Action>
  auto run(Action&& action) const {
    DeferredLog logs;
    std::lock_guard<std::mutex> lock(mutex_);
    return action(static_cast<const NodeState&>(node_));
  }

 private:
  mutable std::mutex mutex_;
  NodeState node_;
};

}  // namespace activity
