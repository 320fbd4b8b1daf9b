// The server's accept loop and lifecycle: the listening socket and its
// acceptor thread, the optional link to a parent server opened at start-up,
// and the timer thread that sends SERVER_ANNOUNCE, expires silent servers
// and late lock rounds, and joins the threads of finished connections.
// Everything else about a connection (its reader, writer and close path)
// is in connection.h.
//
// Exhaustion is survivable: a connection whose descriptor, threads or
// memory cannot be had is refused with one INVALID_MESSAGE line, and the
// server goes on serving the others (see admit()).
//
// Lock order (outermost first): conns_mutex_ is never held while taking
// the node mutex (GuardedNode); the node mutex may be held while taking a
// connection's queue mutex (Connection::deliver). Threads are never joined
// under any of them.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connection.h"
#include "named_limits.h"
#include "node_state.h"

namespace activity {

struct ServerOptions {
  std::string bind_address;  // empty: every interface, IPv6 and IPv4
  std::uint16_t local_port = kDefaultPort;  // 0: any free port
  std::string local_host = "localhost";     // announced for redirects
  std::string remote_host;                   // empty: start alone
  std::uint16_t remote_port = kDefaultPort;
  std::string secret;  // required; the caller generates one if alone
  Millis announce_interval = kDefaultAnnounceInterval;
  Millis lock_timeout = kDefaultLockTimeout;
  Millis server_timeout = kDefaultServerTimeout;
  Millis handshake_timeout = kDefaultHandshakeTimeout;
  Millis write_timeout = kDefaultWriteTimeout;
  Millis line_timeout = kDefaultLineTimeout;
  Millis linger = kLingerAfterFinalReply;
  std::size_t max_line_bytes = kDefaultMaxLineBytes;
  std::size_t max_depth = kDefaultMaxDepth;
  std::size_t max_connections = kDefaultMaxConnections;
  std::size_t client_queue_bytes = kDefaultClientQueueBytes;
  std::size_t server_queue_bytes = kDefaultServerQueueBytes;
  std::size_t long_line_budget = kDefaultLongLineBudgetBytes;
  FieldLimits fields{};
  NodeLimits node{};
  // Healing (docs/features.md): our extensions on, the link timeout, and
  // the backoff between attempts to rejoin after losing the parent link.
  bool extensions = true;
  Millis link_timeout = std::max(kMinLinkTimeout, 3 * kDefaultAnnounceInterval);
  Millis reconnect_min = kDefaultReconnectMin;
  Millis reconnect_max = kDefaultReconnectMax;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, connects to the remote server if one is configured, and starts
  // every thread. Throws std::runtime_error with a one-line reason when the
  // port cannot be bound or the remote cannot be reached.
  void start();

  // With a remote: waits up to `grace` for the start-up link to fail (an
  // AUTHENTICATION_FAIL, INVALID_MESSAGE or close). Returns the reason if
  // it did, nothing if the link is still up.
  std::optional<std::string> wait_for_startup_link(Millis grace);

  // From now on a lost parent link is healed (docs/features.md): called
  // once the start-up link has passed its grace period, or at once when
  // started alone.
  void enable_healing();

  // Graceful stop, before stop(): stops accepting and healing, redirects
  // every logged-in client to the least-loaded known server and waits (at
  // most kHandOffBound) for their connections to close, then closes every
  // server link so that the servers behind them rejoin at once. Returns
  // the clients redirected.
  std::size_t hand_off();

  // Stops accepting, closes every connection, joins every thread.
  // Idempotent; also run by the destructor.
  void stop();

  std::uint16_t port() const { return port_; }
  const std::string& id() const { return id_; }

  // Snapshots of the node state (take the node lock).
  NodeStats stats() const;
  std::vector<std::string> known_server_ids() const;
  std::map<std::string, KnownServer> known_servers() const;
  std::optional<std::string> stored_secret(const std::string& user) const;
  // Number of connection reader threads not yet joined.
  std::size_t live_connection_threads() const;
  // Bytes of the long-line budget in use.
  std::size_t long_line_bytes_in_use() const { return long_lines_.used(); }
  // The turns that long parses take (tests hold them to make readers wait).
  Turns& long_parse_turns() { return long_parses_; }

  // Serves an already connected socket as if it had been accepted (the
  // fuzz target drives the server over socketpairs this way). Returns false
  // if the connection was refused.
  bool adopt(int fd, const std::string& peer);

 private:
  void bind_listener();
  void connect_to_remote();
  void run_acceptor();
  // accept() failed for want of descriptors: refuses one waiting peer with
  // a line, using the descriptor held in reserve for this.
  void refuse_for_descriptors();
  void run_timer();
  // The healer thread: while orphaned, tries to rejoin (see heal.cpp).
  void run_healer();
  // One attempt to join through host:port; true once joined.
  bool try_join(const std::string& host, std::uint16_t port);
  // Waits up to `delay` or until stopping; false if stopping.
  bool heal_pause(Millis delay);
  void wake_healer();
  // The graceful stop turns healing off before it closes the links.
  void disable_healing();
  bool healing_enabled();
  // Closes the listening socket for new peers and joins the acceptor.
  void stop_accepting();
  // Starts serving `fd`; on failure refuses it with a one-line reason and
  // returns false. Never throws.
  enum class Link { kIncoming, kStartup, kJoining };
  bool admit(int fd, const std::string& peer, Link link);
  void finished(ConnId id, const std::string& reason);
  void reap_finished();

  ServerOptions options_;
  std::string id_;
  int listen_fd_ = -1;
  int spare_fd_ = -1;  // held so a refusal can still be accepted at EMFILE
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  std::unique_ptr<GuardedNode> node_;
  ByteBudget long_lines_;
  Turns long_parses_{kMaxConcurrentLongParses};
  ConnectionContext context_;

  mutable std::mutex conns_mutex_;
  std::map<ConnId, std::shared_ptr<Connection>> conns_;
  std::vector<std::shared_ptr<Connection>> finished_;  // to be joined
  std::size_t open_connections_ = 0;  // admitted, not yet finished
  ConnId next_id_ = 1;
  std::condition_variable timer_wake_;

  // Start-up link: its id and, once it has closed, why.
  ConnId startup_link_ = 0;
  std::optional<std::string> startup_link_failure_;
  std::condition_variable startup_link_changed_;

  // Healing: the healer waits on heal_changed_; the node wakes it (under
  // the node lock, so heal_mutex_ is taken after the node mutex, never
  // before it).
  std::mutex heal_mutex_;
  std::condition_variable heal_changed_;
  bool heal_event_ = false;
  bool healing_enabled_ = false;
  std::string parent_host_;  // where the parent link goes
  std::uint16_t parent_port_ = 0;

  std::atomic<bool> accepting_{true};
  std::thread acceptor_;
  std::thread timer_;
  std::thread healer_;
};

}  // namespace activity
