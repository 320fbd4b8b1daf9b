// A network of real activity-server processes for the failure tests: each
// server a child process on its own port, restartable at that port, with
// one listening client logged in on it; helpers to check that the live
// servers form one tree (every listener hears a fresh probe from every
// live server) and that no listener ever receives an activity twice.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "child_process.h"
#include "test_support.h"

namespace activity::test {

inline const std::string kClusterSecret = "cluster-secret";

struct ClusterServer {
  std::string host = "127.0.0.1";  // where it listens and is announced
  std::uint16_t port = 0;
  std::unique_ptr<ChildProcess> process;
  bool frozen = false;
  bool cut = false;       // partitioned away: not expected to be reached
  std::string netns;      // the network namespace it runs in, if any
  std::unique_ptr<LineClient> listener;
  std::set<std::string> seen;  // activity ids its listener received
  bool running() const { return process != nullptr; }
  bool live() const { return process != nullptr && !frozen && !cut; }
};

class Cluster {
 public:
  // `wrapper` runs before the server binary (e.g. "ip netns exec NS").
  explicit Cluster(std::vector<std::string> extra_args = {});
  ~Cluster();

  // Starts server `index` (a new slot when index == size()), joining the
  // server at `parent` (or none). Its port is kept across restarts. False
  // if it did not start listening; `why` then holds its standard error.
  bool start(std::size_t index, std::optional<std::size_t> parent,
             std::string* why = nullptr,
             const std::vector<std::string>& wrapper = {});
  // A new slot whose server listens on `host` inside namespace `netns`.
  void add_slot(const std::string& host, const std::string& netns);
  void kill(std::size_t index);    // SIGKILL, reaped
  void freeze(std::size_t index);  // SIGSTOP
  void thaw(std::size_t index);    // SIGCONT
  // Logs a listener in on server `index`, retrying while it is redirected.
  bool listen(std::size_t index, Millis timeout = kDefaultWait);

  // Sends probes from every live server's listener until every live
  // listener has heard one from every live server, or `timeout` passes.
  // Reads every listener meanwhile, recording duplicates.
  bool one_tree(Millis timeout, std::string* missing = nullptr);
  // Reads whatever the listeners have been sent, for `period`.
  void drain(Millis period);

  // The last `bytes` of each running server's standard error, for a
  // failure message.
  std::string logs(std::size_t bytes = 6000);

  std::size_t size() const { return servers_.size(); }
  ClusterServer& at(std::size_t index) { return servers_.at(index); }
  std::vector<std::size_t> live() const;
  // Activity ids some listener received twice (must stay empty).
  const std::vector<std::string>& duplicates() const { return duplicates_; }
  std::size_t received() const { return received_; }

 private:
  // Reads one listener for up to `timeout`; returns false if it closed.
  void read_listener(ClusterServer& server, Millis timeout,
                     const std::string& probe_prefix,
                     std::map<std::size_t, std::set<std::string>>* heard,
                     std::size_t index);

  std::vector<std::string> extra_args_;
  std::vector<ClusterServer> servers_;
  std::vector<std::string> duplicates_;
  std::size_t received_ = 0;
  std::size_t probe_round_ = 0;
};

// A TCP connection to host:port made from inside network namespace `netns`
// (a thread enters it for the connect; the socket stays there). -1 on
// failure.
int connect_in_netns(const std::string& netns, const std::string& host,
                     std::uint16_t port);

// The iproute2 `ip` binary, or an empty string where there is none.
std::string ip_path();

// The `"id":"..."` of an activity, or an empty string.
std::string activity_id(const std::string& activity);

}  // namespace activity::test
