// The node state: everything one server knows (its connections and their
// roles, logged-in clients, stored users, known servers, server links and
// pending registrations) and every protocol decision it makes. It reacts to
// validated messages by calling Participant::deliver/close on the
// connections involved; it never touches a socket, so tests drive it with
// fake participants.
//
// Locking contract: NodeState is not internally synchronised. The server
// guards one instance with one mutex (Server::node_mutex_) and calls every
// method with it held. Participants must therefore never block and never
// call back into the node from deliver/close.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "named_limits.h"
#include "protocol.h"

namespace activity {

using ConnId = std::uint64_t;
using Payload = std::shared_ptr<const std::string>;
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

inline Payload make_payload(std::string line) {
  return std::make_shared<const std::string>(std::move(line));
}

enum class Role { kNone, kClient, kServerLink };

// What the node needs of a connection.
class Participant {
 public:
  virtual ~Participant() = default;
  // Queues one line for sending. Never blocks.
  virtual void deliver(const Payload& line) = 0;
  // Queues `last_line` (if not null) as the final line, then closes the
  // connection once it is flushed. Never blocks; later calls are ignored.
  virtual void close(const Payload& last_line, std::string_view reason) = 0;
  // The connection's role is now known (it selects its queue limit).
  virtual void set_role(Role role) = 0;
};

// The bounds on what peers can make the node hold (see named_limits.h).
struct NodeLimits {
  std::size_t max_users = kDefaultMaxUsers;
  std::size_t max_known_servers = kDefaultMaxKnownServers;
  std::size_t max_pending_registrations = kDefaultMaxPendingRegistrations;
  std::size_t max_registrations_per_connection =
      kDefaultMaxRegistrationsPerConnection;
  std::size_t registrations_per_second = kDefaultRegistrationsPerSecond;
};

struct NodeConfig {
  std::string id;        // this server's SERVER_ANNOUNCE id
  std::string secret;    // the network's server secret
  std::string hostname;  // announced to other servers for redirects
  std::uint16_t port = kDefaultPort;
  Millis lock_timeout = kDefaultLockTimeout;
  Millis server_timeout = kDefaultServerTimeout;
  NodeLimits limits{};
  // The line limit, which every server of the network is assumed to share:
  // a broadcast this server builds must not be longer, or the next server
  // would refuse it and close the link.
  std::size_t max_line_bytes = kDefaultMaxLineBytes;
  // Our extensions (PROTOCOL.md section 9, docs/features.md): advertised
  // and used unless off (--no-extensions).
  bool extensions = true;
  // An extended server link silent this long is closed (--link-timeout).
  Millis link_timeout = kMinLinkTimeout;
  // Called, under the node lock, when the healer has something to do: the
  // parent link was lost, or a join attempt ended. Must not block.
  std::function<void()> wake_healer;
};

// A server remembered from before the parent link was lost: a place to
// rejoin the network (docs/features.md, "heal/1").
struct RejoinCandidate {
  std::string id;
  std::string hostname;
  std::uint16_t port = 0;
};

// Where a join attempt stands (add_joining_link).
enum class JoinState { kNone, kWaiting, kJoined, kRefused };
struct JoinOutcome {
  JoinState state = JoinState::kNone;
  std::string why;  // kRefused: the reason
};

struct KnownServer {
  std::uint64_t load = 0;
  std::string hostname;
  std::uint16_t port = 0;
  TimePoint seen;
  ConnId link = 0;  // the server link its announces arrive on
  // Increases with every server recorded: a server forgotten and then
  // announced again is a new entry, which no earlier lock round noted.
  std::uint64_t serial = 0;
};

// A snapshot for tests, logs and monitoring.
struct NodeStats {
  std::size_t connections = 0;
  std::size_t load = 0;  // logged-in clients
  std::size_t server_links = 0;
  std::size_t known_servers = 0;
  std::size_t users = 0;
  std::size_t pending_registrations = 0;
  bool orphaned = false;  // lost its parent, not yet rejoined
};

class NodeState {
 public:
  explicit NodeState(NodeConfig config);

  // A new accepted connection, with no role yet.
  void add_connection(ConnId id, std::shared_ptr<Participant> participant);
  // A link this server opened and already sent AUTHENTICATE on: it is a
  // server link at once, and gets this server's announce straight away.
  void add_outgoing_link(ConnId id, std::shared_ptr<Participant> participant,
                         TimePoint now);

  // A link this server opened to rejoin the network after losing its
  // parent (docs/features.md, "heal/1"), AUTHENTICATE already queued. It is
  // gated: nothing is forwarded on it or taken from it until the target's
  // root has answered ROOT_QUERY and allows the join (join_outcome()).
  void add_joining_link(ConnId id, std::shared_ptr<Participant> participant,
                        TimePoint now);
  JoinOutcome join_outcome() const { return join_; }
  // The attempt took too long: its link is closed.
  void abandon_join(std::string_view why);
  // Servers to try, in order, while orphaned: the ancestors first (nearest
  // first), then every other server heard of lately (kRememberServersFor)
  // that is not in this server's tree now, by id. Empty when not orphaned.
  std::vector<RejoinCandidate> rejoin_candidates() const;
  bool orphaned() const { return orphan_; }
  // The parent link was closed for silence: the parent is probably hung,
  // so its address is better tried last.
  bool parent_went_silent() const { return parent_silent_; }

  // Graceful stop: every logged-in client is sent a REDIRECT to the least
  // loaded known server (counting those already sent there) and closed.
  // Returns how many were redirected (none when no server is known).
  std::size_t hand_off_clients();
  // Closes every server link (their servers rejoin without waiting for a
  // timeout).
  void close_links(std::string_view reason);

  // Acts on one validated message that arrived on connection `id`.
  // `raw_line` is the line as received, forwarded unchanged where the
  // protocol says so.
  void handle(ConnId id, const Message& message, std::string_view raw_line,
              TimePoint now);

  // Rejects a line that failed validation: INVALID_MESSAGE, then close.
  void reject(ConnId id, std::string_view info);

  // The connection is gone (peer closed, error, slow consumer, shutdown).
  // Idempotent.
  void remove_connection(ConnId id);

  // Sends this server's SERVER_ANNOUNCE on every server link.
  void announce();

  // Forgets servers silent for the server timeout and fails lock rounds
  // past the lock timeout.
  void expire(TimePoint now);

  NodeStats stats() const;
  std::vector<std::string> known_server_ids() const;
  const std::map<std::string, KnownServer>& known_servers() const {
    return known_servers_;
  }
  std::optional<std::string> stored_secret(const std::string& username) const;
  const NodeConfig& config() const { return config_; }

 private:
  struct Connection {
    std::shared_ptr<Participant> participant;
    Role role = Role::kNone;
    bool logged_in = false;
    std::string username;   // logged-in user
    std::string secret;     // secret the login used
    std::string pending;    // username whose round this connection awaits
    std::size_t registrations = 0;  // REGISTERs accepted on it
    // Server links: the neighbour advertised kHealFeature (an incoming
    // link's AUTHENTICATE says so; an outgoing link's first SERVER_ANNOUNCE,
    // which is the neighbour's own, does).
    bool heal = false;
    bool gone = false;  // ...and kGoneFeature, the same way
    bool outgoing = false;
    bool heard_announce = false;  // an announce has arrived on it
    std::string peer_id;          // outgoing: the neighbour's id
    TimePoint last_heard{};       // last valid line, for the link timeout
    // A joining link (add_joining_link) until its join is allowed, and the
    // target's announce that arrived on it meanwhile.
    bool joining = false;
    std::optional<Message> joining_announce;
    std::string joining_raw;
  };

  // A ROOT_QUERY relayed towards the root, to be answered back.
  struct RelayedQuery {
    ConnId from = 0;
    std::string query;  // the asker's token
    TimePoint deadline;
  };

  // What is remembered of a server that announced itself (any link).
  struct Remembered {
    std::string hostname;
    std::uint16_t port = 0;
    std::string parent;
    TimePoint heard{};
  };

  // A LOCK_ALLOWED counted for one noted server.
  struct Answer {
    bool named = true;  // it carried `server`; else it was attributed
    ConnId link = 0;    // the link an attributed answer arrived on
  };

  // A lock round this server originated (PROTOCOL.md section 6). The noted
  // servers are those with a serial below `first_unnoted`; counting them
  // costs nothing per server, however many are known.
  struct PendingRegistration {
    std::string secret;
    ConnId client = 0;  // 0 once the client has gone
    std::uint64_t first_unnoted = 0;
    std::size_t noted_known = 0;  // noted servers that are still known
    // Noted, still-known servers that have answered, by serial.
    std::map<std::uint64_t, Answer> answers;
    TimePoint deadline;
  };

  void handle_authenticate(ConnId id, Connection& conn, const Message& m,
                           TimePoint now);
  void handle_login(ConnId id, Connection& conn, const Message& m);
  void handle_register(ConnId id, Connection& conn, const Message& m,
                       TimePoint now);
  void handle_activity(ConnId id, Connection& conn, const Message& m);
  void handle_broadcast(ConnId id, std::string_view raw_line);
  void handle_announce(ConnId id, const Message& m, std::string_view raw,
                       TimePoint now);
  void handle_lock_request(ConnId id, const Message& m, std::string_view raw);
  void handle_lock_answer(ConnId id, const Message& m, std::string_view raw);
  void handle_root_query(ConnId id, const Connection& conn, const Message& m,
                         TimePoint now);
  void handle_root_reply(ConnId id, const Message& m);
  // Forgets the servers `m` names that are known through link `id`, and
  // tells the other links.
  void handle_server_gone(ConnId id, const Message& m);
  // SERVER_GONE for `ids` on every kGoneFeature link but `except`.
  void send_gone(const std::vector<std::string>& ids, ConnId except);
  // A message on a joining link: only the target's announce and the answer
  // to our ROOT_QUERY are taken; the rest is not ours yet.
  void handle_joining(ConnId id, Connection& conn, const Message& m,
                      std::string_view raw, TimePoint now);
  void end_join(JoinState state, std::string why);
  // This server's own SERVER_ANNOUNCE, with our extension fields unless off.
  Payload own_announce() const;
  // The parent link was lost: remember where to rejoin.
  void become_orphan();
  // A server link this server opened (at start-up, or to join).
  Connection& add_opened_link(ConnId id, std::shared_ptr<Participant> participant,
                              TimePoint now, bool joining);
  // Keeps the announcer's address for rejoining (bounded, oldest out).
  void remember(const Message& m, TimePoint now);

  // Sends `last_line` (if any) and closes the connection, forgetting it.
  void drop(ConnId id, const Payload& last_line, std::string_view reason);
  void reply_and_close(ConnId id, Command command, std::string_view info);

  void send_to_links(const Payload& line, ConnId except = 0);
  void send_to_clients(const Payload& line);
  void forward(ConnId from, std::string_view raw_line);

  void forget_server(const std::string& id);
  // Counts a LOCK_ALLOWED that arrived on `link` for a round.
  void count_allowed(PendingRegistration& round, const Message& m, ConnId link);
  // Attributes an answer without `server` that arrived on `link` to a
  // noted, still-known server behind that link that has not answered.
  void attribute_unnamed(PendingRegistration& round, ConnId link);
  // Completes or keeps waiting on a round; returns true if it ended.
  bool check_round(const std::string& username);
  void check_all_rounds();
  void fail_round(const std::string& username, std::string_view info);
  // Takes one registration from the per-second allowance.
  bool take_registration_token(TimePoint now);
  // The server a client that just logged in is sent to, if any.
  std::optional<std::string> pick_redirect();

  NodeConfig config_;
  std::unordered_map<ConnId, Connection> connections_;
  std::unordered_map<std::string, std::string> users_;  // username -> secret
  std::map<std::string, KnownServer> known_servers_;     // id -> entry
  std::map<std::string, PendingRegistration> pending_;   // by username
  std::uint64_t next_serial_ = 1;
  double registration_tokens_;
  TimePoint tokens_updated_{};
  std::size_t load_ = 0;
  std::size_t links_ = 0;  // server links, joining ones not counted
  std::mt19937_64 random_;  // redirect tie-breaks

  // Healing (docs/features.md). The parent link is the one this server
  // opened (at start-up, or by a join); a server without one is a root.
  ConnId parent_ = 0;
  std::string parent_id_;  // the parent's id once it has announced
  bool orphan_ = false;    // lost its parent; a root until it rejoins
  bool parent_silent_ = false;  // ...because its link went silent
  ConnId joining_ = 0;     // the link of the join in progress, if any
  std::string join_query_;
  JoinOutcome join_;
  std::uint64_t next_query_ = 1;
  std::map<std::string, RelayedQuery> relayed_;  // by our token
  // Every server heard of lately, by id: where an orphan may rejoin.
  std::map<std::string, Remembered> remembered_;
  std::vector<std::string> ancestors_;  // taken when orphaned, nearest first
};

}  // namespace activity
