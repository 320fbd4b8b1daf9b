// Protocol decisions of one server (see node_state.h): roles and states of
// connections (PROTOCOL.md section 2), the tree of server links and the
// known-server table (section 3), login and redirect (section 4),
// activities (section 5) and lock rounds for registration (section 6).
#include "node_state.h"

#include <algorithm>
#include <set>

#include "log.h"
#include "secret.h"

namespace activity {
namespace {

constexpr std::string_view kAnonymous = "anonymous";

bool is_server_only(Command command) {
  switch (command) {
    case Command::kServerAnnounce:
    case Command::kActivityBroadcast:
    case Command::kLockRequest:
    case Command::kLockAllowed:
    case Command::kLockDenied:
    case Command::kRootQuery:
    case Command::kRootReply:
    case Command::kServerGone:
      return true;
    default:
      return false;
  }
}

bool is_extension(Command command) {
  return command == Command::kRootQuery || command == Command::kRootReply;
}

bool is_client_request(Command command) {
  switch (command) {
    case Command::kLogin:
    case Command::kRegister:
    case Command::kActivityMessage:
    case Command::kLogout:
      return true;
    default:
      return false;
  }
}

// Peer strings reach log lines only as short printable samples.
std::string sample(std::string_view text) {
  return printable_sample(text, kLogSampleBytes);
}

std::string describe(Role role) {
  switch (role) {
    case Role::kNone: return "an unauthenticated connection";
    case Role::kClient: return "a client connection";
    case Role::kServerLink: return "a server link";
  }
  return "a connection";
}

}  // namespace

NodeState::NodeState(NodeConfig config)
    : config_(std::move(config)),
      registration_tokens_(
          static_cast<double>(config_.limits.registrations_per_second)),
      random_(std::random_device{}()) {}

void NodeState::add_connection(ConnId id,
                               std::shared_ptr<Participant> participant) {
  Connection conn;
  conn.participant = std::move(participant);
  connections_.emplace(id, std::move(conn));
}

NodeState::Connection& NodeState::add_opened_link(
    ConnId id, std::shared_ptr<Participant> participant, TimePoint now,
    bool joining) {
  Connection conn;
  conn.participant = std::move(participant);
  conn.role = Role::kServerLink;
  conn.outgoing = true;
  conn.joining = joining;
  conn.last_heard = now;
  conn.participant->set_role(Role::kServerLink);
  return connections_.emplace(id, std::move(conn)).first->second;
}

void NodeState::add_outgoing_link(ConnId id,
                                  std::shared_ptr<Participant> participant,
                                  TimePoint now) {
  Connection& stored = add_opened_link(id, std::move(participant), now, false);
  ++links_;
  parent_ = id;
  stored.participant->deliver(own_announce());
}

void NodeState::add_joining_link(ConnId id,
                                 std::shared_ptr<Participant> participant,
                                 TimePoint now) {
  add_opened_link(id, std::move(participant), now, true);
  joining_ = id;
  join_query_.clear();
  join_ = JoinOutcome{JoinState::kWaiting, {}};
}

void NodeState::abandon_join(std::string_view why) {
  const ConnId link = joining_;
  if (link == 0) return;
  end_join(JoinState::kRefused, std::string(why));
  drop(link, nullptr, why);
}

void NodeState::end_join(JoinState state, std::string why) {
  if (join_.state != JoinState::kWaiting) return;
  join_ = JoinOutcome{state, std::move(why)};
  joining_ = 0;
  join_query_.clear();
  if (config_.wake_healer) config_.wake_healer();
}

Payload NodeState::own_announce() const {
  if (!config_.extensions) {
    return make_payload(encode_server_announce(config_.id, load_,
                                               config_.hostname, config_.port));
  }
  return make_payload(encode_server_announce(
      config_.id, load_, config_.hostname, config_.port, &parent_id_));
}

void NodeState::handle(ConnId id, const Message& message,
                       std::string_view raw_line, TimePoint now) {
  auto found = connections_.find(id);
  if (found == connections_.end()) return;  // already closed
  Connection& conn = found->second;
  const Command command = message.command;
  conn.last_heard = now;

  // A peer reporting our error: log it, close, never answer (section 2).
  if (command == Command::kInvalidMessage ||
      command == Command::kAuthenticationFail) {
    log(LogLevel::kWarn, "connection ", id, " reported ",
        command_name(command), ": ", sample(message.info));
    drop(id, nullptr,
         "peer sent " + std::string(command_name(command)) + ": " +
             sample(message.info));
    return;
  }
  if (is_server_only(command) && conn.role != Role::kServerLink) {
    reject(id, std::string(command_name(command)) + " on " +
                   describe(conn.role) + " (server-only message)");
    return;
  }
  if (is_client_request(command) && conn.role == Role::kServerLink) {
    reject(id, std::string(command_name(command)) + " on a server link");
    return;
  }
  if (conn.joining) {
    handle_joining(id, conn, message, raw_line, now);
    return;
  }
  if ((is_extension(command) && !conn.heal) ||
      (command == Command::kServerGone && !conn.gone)) {
    // What a server without the feature says (PROTOCOL.md section 9).
    reject(id, "unknown command '" + std::string(command_name(command)) + "'");
    return;
  }

  switch (command) {
    case Command::kAuthenticate:
      handle_authenticate(id, conn, message, now);
      return;
    case Command::kLogin:
      handle_login(id, conn, message);
      return;
    case Command::kRegister:
      handle_register(id, conn, message, now);
      return;
    case Command::kLogout:
      // With no role: close without a reply. A client: the server closes.
      drop(id, nullptr, "logout");
      return;
    case Command::kActivityMessage:
      handle_activity(id, conn, message);
      return;
    case Command::kActivityBroadcast:
      handle_broadcast(id, raw_line);
      return;
    case Command::kServerAnnounce:
      handle_announce(id, message, raw_line, now);
      return;
    case Command::kLockRequest:
      handle_lock_request(id, message, raw_line);
      return;
    case Command::kLockAllowed:
    case Command::kLockDenied:
      handle_lock_answer(id, message, raw_line);
      return;
    case Command::kRootQuery:
      handle_root_query(id, conn, message, now);
      return;
    case Command::kRootReply:
      handle_root_reply(id, message);
      return;
    case Command::kServerGone:
      handle_server_gone(id, message);
      return;
    default:
      // Replies a server sends but never receives (LOGIN_SUCCESS, ...).
      reject(id, std::string("unexpected command '") +
                     std::string(command_name(command)) + "' on " +
                     describe(conn.role));
      return;
  }
}

void NodeState::handle_authenticate(ConnId id, Connection& conn,
                                    const Message& m, TimePoint now) {
  if (conn.role == Role::kServerLink) {
    reject(id, "AUTHENTICATE on an already authenticated server link");
    return;
  }
  if (conn.role == Role::kClient) {
    reject(id, "AUTHENTICATE on a client connection");
    return;
  }
  if (!secrets_equal(m.secret, config_.secret)) {
    log(LogLevel::kWarn, "connection ", id,
        " failed to authenticate as a server");
    reply_and_close(id, Command::kAuthenticationFail,
                    "the supplied server secret is incorrect");
    return;
  }
  conn.role = Role::kServerLink;
  conn.participant->set_role(Role::kServerLink);
  conn.heal = config_.extensions && m.heal;
  conn.gone = config_.extensions && m.gone;
  conn.last_heard = now;
  ++links_;
  log(LogLevel::kInfo, "connection ", id, " is now a server link",
      conn.heal ? " (heal/1)" : "");
  conn.participant->deliver(own_announce());
}

void NodeState::handle_login(ConnId id, Connection& conn, const Message& m) {
  if (conn.logged_in) {
    reject(id, "LOGIN while already logged in");
    return;
  }
  if (conn.role == Role::kNone) {
    conn.role = Role::kClient;
    conn.participant->set_role(Role::kClient);
  }
  if (m.username != kAnonymous) {
    if (pending_.count(m.username) != 0) {
      reply_and_close(id, Command::kLoginFailed,
                      "the registration of " + m.username +
                          " is still pending");
      return;
    }
    auto user = users_.find(m.username);
    if (user == users_.end()) {
      reply_and_close(id, Command::kLoginFailed,
                      "user " + m.username + " is not registered");
      return;
    }
    if (!secrets_equal(m.secret, user->second)) {
      reply_and_close(id, Command::kLoginFailed,
                      "attempt to login with wrong secret for user " +
                          m.username);
      return;
    }
  }
  conn.logged_in = true;
  conn.username = m.username;
  conn.secret = m.username == kAnonymous ? std::string() : m.secret;
  ++load_;
  log(LogLevel::kDebug, "connection ", id, " logged in as ", sample(m.username));
  conn.participant->deliver(make_payload(encode_info_message(
      Command::kLoginSuccess, "logged in as user " + m.username)));

  if (std::optional<std::string> target = pick_redirect()) {
    KnownServer& server = known_servers_.at(*target);
    // The client counts on the target until its next announce says what it
    // has (docs/features.md, "Redirects"), so that the next login here is
    // not sent after it on a load already out of date.
    ++server.load;
    log(LogLevel::kDebug, "redirecting connection ", id, " to ",
        sample(server.hostname), ":", server.port);
    drop(id, make_payload(encode_redirect(server.hostname, server.port)),
         "redirected");
  }
}

std::optional<std::string> NodeState::pick_redirect() {
  // The load counts the client that just logged in (section 4). Of the
  // eligible servers the least loaded wins, ties drawn at random: servers
  // redirecting at once do not all herd their clients to the smallest id.
  if (load_ < 2) return std::nullopt;
  const std::string* best = nullptr;
  std::uint64_t best_load = 0;
  std::uint64_t ties = 0;
  for (const auto& [id, server] : known_servers_) {
    // At least 2 below ours; written so that no announced load overflows.
    if (server.load > load_ - 2) continue;
    if (best == nullptr || server.load < best_load) {
      best = &id;
      best_load = server.load;
      ties = 1;
    } else if (server.load == best_load &&
               std::uniform_int_distribution<std::uint64_t>(0, ties++)(random_) == 0) {
      best = &id;  // reservoir sampling: each tie equally likely
    }
  }
  return best == nullptr ? std::nullopt : std::optional<std::string>(*best);
}

void NodeState::handle_register(ConnId id, Connection& conn, const Message& m,
                                TimePoint now) {
  const NodeLimits& limits = config_.limits;
  if (conn.logged_in) {
    reject(id, "REGISTER after login on this connection");
    return;
  }
  if (!conn.pending.empty()) {
    reject(id, "REGISTER while a registration is pending on this connection");
    return;
  }
  if (conn.role == Role::kNone) {
    conn.role = Role::kClient;
    conn.participant->set_role(Role::kClient);
  }
  if (m.username == kAnonymous) {
    reply_and_close(id, Command::kRegisterFailed,
                    "anonymous cannot be registered");
    return;
  }
  // Rule 2 first, so that a taken name gets its REGISTER_FAILED whatever
  // the limits below say.
  if (users_.count(m.username) != 0) {
    reply_and_close(id, Command::kRegisterFailed,
                    m.username + " is already registered with the system");
    return;
  }
  if (conn.registrations >= limits.max_registrations_per_connection) {
    reject(id, "REGISTER: at most " +
                   std::to_string(limits.max_registrations_per_connection) +
                   " registration(s) per connection");
    return;
  }
  if (pending_.size() >= limits.max_pending_registrations) {
    reject(id, "REGISTER: " + std::to_string(pending_.size()) +
                   " registrations are in progress here (limit " +
                   std::to_string(limits.max_pending_registrations) +
                   "); try again later");
    return;
  }
  if (!take_registration_token(now)) {
    reject(id, "REGISTER: more than " +
                   std::to_string(limits.registrations_per_second) +
                   " registrations per second here; try again later");
    return;
  }
  if (users_.size() >= limits.max_users) {
    reply_and_close(id, Command::kRegisterFailed,
                    "this server's user table is full (limit " +
                        std::to_string(limits.max_users) + " users)");
    return;
  }
  ++conn.registrations;
  users_[m.username] = m.secret;
  send_to_links(
      make_payload(encode_lock(Command::kLockRequest, m.username, m.secret)));
  if (known_servers_.empty()) {
    log(LogLevel::kInfo, "registered ", sample(m.username),
        " (no other server known)");
    conn.participant->deliver(make_payload(encode_info_message(
        Command::kRegisterSuccess, "register success for " + m.username)));
    return;
  }
  PendingRegistration round;
  round.secret = m.secret;
  round.client = id;
  round.deadline = now + config_.lock_timeout;
  round.first_unnoted = next_serial_;
  round.noted_known = known_servers_.size();
  log(LogLevel::kInfo, "lock round for ", sample(m.username), " waits on ",
      round.noted_known, " servers");
  conn.pending = m.username;
  pending_.emplace(m.username, std::move(round));
}

bool NodeState::take_registration_token(TimePoint now) {
  const auto rate = static_cast<double>(config_.limits.registrations_per_second);
  if (tokens_updated_ != TimePoint{}) {
    const double elapsed =
        std::chrono::duration<double>(now - tokens_updated_).count();
    if (elapsed > 0) {
      registration_tokens_ = std::min(rate, registration_tokens_ + elapsed * rate);
    }
  }
  tokens_updated_ = now;
  if (registration_tokens_ < 1.0) return false;
  registration_tokens_ -= 1.0;
  return true;
}

void NodeState::handle_activity(ConnId id, Connection& conn,
                                const Message& m) {
  if (!conn.logged_in) {
    reply_and_close(id, Command::kAuthenticationFail,
                    "ACTIVITY_MESSAGE before logging in");
    return;
  }
  if (m.username != conn.username) {
    reply_and_close(id, Command::kAuthenticationFail,
                    "username does not match the logged-in user");
    return;
  }
  if (conn.username != kAnonymous && !secrets_equal(m.secret, conn.secret)) {
    reply_and_close(id, Command::kAuthenticationFail,
                    "secret does not match the one used to log in");
    return;
  }
  const Payload line =
      make_payload(encode_activity_broadcast(m.activity, conn.username));
  if (line->size() - 1 > config_.max_line_bytes) {
    // Stamping adds bytes: an ACTIVITY_MESSAGE near the limit would give a
    // broadcast over it, which the next server would refuse by closing
    // the link.
    reject(id, "ACTIVITY_MESSAGE: the activity's broadcast would be " +
                   std::to_string(line->size() - 1) +
                   " bytes, over the line limit of " +
                   std::to_string(config_.max_line_bytes) + " bytes");
    return;
  }
  send_to_links(line);
  send_to_clients(line);
}

void NodeState::handle_broadcast(ConnId id, std::string_view raw_line) {
  const Payload line = make_payload(std::string(raw_line) + "\n");
  send_to_links(line, id);
  send_to_clients(line);
}

void NodeState::handle_announce(ConnId id, const Message& m,
                                std::string_view raw, TimePoint now) {
  Connection& conn = connections_.at(id);
  if (m.id == config_.id) {
    // Our own, come round. From one of our servers that is a cycle
    // (PROTOCOL.md section 9): the link is closed. Else it is dropped.
    if (conn.heal) {
      log(LogLevel::kWarn, "server link ", id,
          " brought back our own SERVER_ANNOUNCE: a cycle; closing it");
      drop(id, nullptr, "cycle: our own SERVER_ANNOUNCE came back");
    }
    return;
  }
  if (conn.outgoing && !conn.heard_announce) {
    // The first announce on a link we opened is the neighbour's own.
    conn.heard_announce = true;
    conn.peer_id = m.id;
    conn.heal = config_.extensions && m.heal;
    conn.gone = config_.extensions && m.gone;
    if (id == parent_) parent_id_ = m.id;
  }
  remember(m, now);
  auto found = known_servers_.find(m.id);
  if (found == known_servers_.end()) {
    if (known_servers_.size() >= config_.limits.max_known_servers) {
      reject(id, "SERVER_ANNOUNCE: the known-server table is full (limit " +
                     std::to_string(config_.limits.max_known_servers) +
                     " servers)");
      return;
    }
    found = known_servers_.emplace(m.id, KnownServer{}).first;
    found->second.serial = next_serial_++;
  }
  KnownServer& server = found->second;
  server.load = m.load;
  server.hostname = m.hostname;
  server.port = m.port;
  server.seen = now;
  server.link = id;
  forward(id, raw);
}

void NodeState::handle_lock_request(ConnId id, const Message& m,
                                    std::string_view raw) {
  forward(id, raw);
  auto user = users_.find(m.username);
  const bool taken = user != users_.end() && !secrets_equal(user->second, m.secret);
  // A full table has no room for the pair: the protocol's only answer is to
  // deny it, which fails the round everywhere.
  const bool full = user == users_.end() && users_.size() >= config_.limits.max_users;
  if (taken || full) {
    if (full) {
      log(LogLevel::kWarn, "denying ", sample(m.username),
          ": the user table is full (limit ", config_.limits.max_users, ")");
    }
    send_to_links(make_payload(encode_lock(Command::kLockDenied, m.username,
                                           m.secret, config_.id)));
    return;
  }
  users_[m.username] = m.secret;
  send_to_links(make_payload(
      encode_lock(Command::kLockAllowed, m.username, m.secret, config_.id)));
}

void NodeState::handle_lock_answer(ConnId id, const Message& m,
                                   std::string_view raw) {
  forward(id, raw);
  const bool denied = m.command == Command::kLockDenied;
  if (denied) {
    auto user = users_.find(m.username);
    if (user != users_.end() && secrets_equal(user->second, m.secret)) {
      users_.erase(user);
    }
  }
  auto round = pending_.find(m.username);
  if (round == pending_.end() || !secrets_equal(round->second.secret, m.secret)) {
    return;  // not a round of ours, or another pair
  }
  if (denied) {
    fail_round(m.username,
               m.username + " is already registered with the system");
    return;
  }
  count_allowed(round->second, m, id);
  check_round(m.username);
}

void NodeState::count_allowed(PendingRegistration& round, const Message& m,
                              ConnId link) {
  if (!m.has_server) {
    attribute_unnamed(round, link);
    return;
  }
  auto server = known_servers_.find(m.server);
  if (server == known_servers_.end() ||
      server->second.serial >= round.first_unnoted) {
    return;  // not a noted server (or no longer known): ignored
  }
  auto [answer, added] = round.answers.emplace(server->second.serial, Answer{});
  if (added || answer->second.named) return;  // new, or a repeat
  // An answer without `server` had been attributed to this server; it now
  // answers by id, so that answer was another server's behind the same link.
  const ConnId unnamed_link = answer->second.link;
  answer->second = Answer{};
  attribute_unnamed(round, unnamed_link);
}

void NodeState::attribute_unnamed(PendingRegistration& round, ConnId link) {
  // In a tree a message from a server arrives on the link towards it, so an
  // answer without `server` can only be from a server behind `link`. Of
  // those that are noted and have not answered, the one heard from last
  // takes it (ties: the smallest id): a server that has gone silent, the
  // one likely to be forgotten, is the least likely sender. If there is
  // none, the answer came from a server the round did not note: ignored.
  const KnownServer* chosen = nullptr;
  for (const auto& [server_id, server] : known_servers_) {
    if (server.link != link || server.serial >= round.first_unnoted) continue;
    if (round.answers.count(server.serial) != 0) continue;
    if (chosen == nullptr || server.seen > chosen->seen) chosen = &server;
  }
  if (chosen != nullptr) round.answers.emplace(chosen->serial, Answer{false, link});
}

bool NodeState::check_round(const std::string& username) {
  auto round = pending_.find(username);
  if (round == pending_.end()) return true;
  PendingRegistration& pending = round->second;
  // Answers are kept only for noted servers that are still known.
  if (pending.answers.size() < pending.noted_known) return false;
  log(LogLevel::kInfo, "registered ", sample(username));
  const ConnId client = pending.client;
  pending_.erase(round);
  auto conn = connections_.find(client);
  if (client != 0 && conn != connections_.end()) {
    conn->second.pending.clear();
    conn->second.participant->deliver(make_payload(encode_info_message(
        Command::kRegisterSuccess, "register success for " + username)));
  }
  return true;
}

void NodeState::check_all_rounds() {
  std::vector<std::string> names;
  for (const auto& entry : pending_) names.push_back(entry.first);
  for (const std::string& name : names) check_round(name);
}

void NodeState::fail_round(const std::string& username,
                           std::string_view info) {
  auto round = pending_.find(username);
  if (round == pending_.end()) return;
  const ConnId client = round->second.client;
  auto user = users_.find(username);
  if (user != users_.end() &&
      secrets_equal(user->second, round->second.secret)) {
    users_.erase(user);
  }
  pending_.erase(round);
  log(LogLevel::kInfo, "registration of ", sample(username), " failed: ",
      sample(info));
  if (client != 0 && connections_.count(client) != 0) {
    connections_.at(client).pending.clear();
    reply_and_close(client, Command::kRegisterFailed, info);
  }
}

void NodeState::reject(ConnId id, std::string_view info) {
  log(LogLevel::kInfo, "connection ", id, ": invalid message: ",
      printable_sample(info, kLogSampleBytes * 2));
  reply_and_close(id, Command::kInvalidMessage, info);
}

void NodeState::reply_and_close(ConnId id, Command command,
                                std::string_view info) {
  drop(id, make_payload(encode_info_message(command, info)),
       command_name(command));
}

void NodeState::drop(ConnId id, const Payload& last_line,
                     std::string_view reason) {
  auto found = connections_.find(id);
  if (found == connections_.end()) return;
  found->second.participant->close(last_line, reason);
  remove_connection(id);
}

void NodeState::remove_connection(ConnId id) {
  auto found = connections_.find(id);
  if (found == connections_.end()) return;
  Connection conn = std::move(found->second);
  connections_.erase(found);
  if (conn.logged_in) --load_;
  for (auto relayed = relayed_.begin(); relayed != relayed_.end();) {
    relayed = relayed->second.from == id ? relayed_.erase(relayed) : std::next(relayed);
  }
  if (conn.joining) {
    end_join(JoinState::kRefused, "the link closed before the join was allowed");
    return;
  }
  if (id == parent_) become_orphan();
  if (!conn.pending.empty()) {
    // The round goes on without anyone to answer (section 6, rule 7).
    auto round = pending_.find(conn.pending);
    if (round != pending_.end() && round->second.client == id) {
      round->second.client = 0;
    }
  }
  if (conn.role == Role::kServerLink) {
    --links_;
    std::vector<std::string> behind;
    for (const auto& [server_id, server] : known_servers_) {
      if (server.link == id) behind.push_back(server_id);
    }
    for (const std::string& server_id : behind) forget_server(server_id);
    log(LogLevel::kInfo, "server link ", id, " closed; forgot ",
        behind.size(), " servers");
    if (!behind.empty()) check_all_rounds();
    send_gone(behind, id);
  }
}

void NodeState::handle_server_gone(ConnId id, const Message& m) {
  // Only what we know through this link: the neighbour speaks for the
  // servers behind it and for no other (docs/features.md, "gone/1").
  std::vector<std::string> gone;
  for (const std::string& server_id : m.ids) {
    auto server = known_servers_.find(server_id);
    if (server == known_servers_.end() || server->second.link != id) continue;
    forget_server(server_id);
    gone.push_back(server_id);
  }
  if (gone.empty()) return;
  log(LogLevel::kDebug, "server link ", id, ": ", gone.size(),
      " servers gone");
  check_all_rounds();
  send_gone(gone, id);
}

void NodeState::send_gone(const std::vector<std::string>& ids, ConnId except) {
  if (ids.empty() || links_ == 0) return;
  std::vector<Payload> lines;
  for (std::size_t first = 0; first < ids.size(); first += kMaxGoneIds) {
    const std::size_t last = std::min(ids.size(), first + kMaxGoneIds);
    lines.push_back(make_payload(encode_server_gone(
        std::vector<std::string>(ids.begin() + static_cast<std::ptrdiff_t>(first),
                                 ids.begin() + static_cast<std::ptrdiff_t>(last)))));
  }
  for (auto& [conn_id, conn] : connections_) {
    if (conn.role != Role::kServerLink || conn.joining || !conn.gone ||
        conn_id == except) {
      continue;
    }
    for (const Payload& line : lines) conn.participant->deliver(line);
  }
}

void NodeState::forget_server(const std::string& id) {
  auto found = known_servers_.find(id);
  if (found == known_servers_.end()) return;
  const std::uint64_t serial = found->second.serial;
  known_servers_.erase(found);
  // A forgotten noted server is no longer waited for, and an answer it gave
  // no longer counts (PROTOCOL.md section 6).
  for (auto& [username, round] : pending_) {
    if (serial >= round.first_unnoted) continue;
    --round.noted_known;
    round.answers.erase(serial);
  }
}

void NodeState::announce() {
  if (links_ == 0) return;
  send_to_links(own_announce());
}

void NodeState::expire(TimePoint now) {
  // A neighbour of ours announces every interval: a link silent for the
  // link timeout has a hung or vanished server behind it (docs/features.md).
  // Towards other implementations nothing changes (section 3).
  std::vector<ConnId> silent_links;
  for (const auto& [conn_id, conn] : connections_) {
    if (conn.role == Role::kServerLink && conn.heal && !conn.joining &&
        now - conn.last_heard >= config_.link_timeout) {
      silent_links.push_back(conn_id);
    }
  }
  for (ConnId conn_id : silent_links) {
    log(LogLevel::kWarn, "server link ", conn_id, " silent for ",
        config_.link_timeout.count(), " ms; closing it");
    if (conn_id == parent_) parent_silent_ = true;
    drop(conn_id, nullptr, "server link silent too long");
  }
  for (auto relayed = relayed_.begin(); relayed != relayed_.end();) {
    relayed = relayed->second.deadline <= now ? relayed_.erase(relayed)
                                              : std::next(relayed);
  }
  for (auto entry = remembered_.begin(); entry != remembered_.end();) {
    const bool stale = now - entry->second.heard >= kRememberServersFor &&
                       known_servers_.count(entry->first) == 0;
    entry = stale ? remembered_.erase(entry) : std::next(entry);
  }

  std::vector<std::string> silent;
  for (const auto& [id, server] : known_servers_) {
    if (now - server.seen >= config_.server_timeout) silent.push_back(id);
  }
  for (const std::string& id : silent) {
    log(LogLevel::kInfo, "forgetting server ", sample(id), ": silent too long");
    forget_server(id);
  }
  if (!silent.empty()) check_all_rounds();

  std::vector<std::string> late;
  for (const auto& [username, round] : pending_) {
    if (round.deadline <= now) late.push_back(username);
  }
  for (const std::string& username : late) {
    const std::string secret = pending_.at(username).secret;
    send_to_links(make_payload(
        encode_lock(Command::kLockDenied, username, secret, config_.id)));
    fail_round(username, "registration of " + username +
                             " timed out waiting for other servers");
  }
}

void NodeState::send_to_links(const Payload& line, ConnId except) {
  if (links_ == 0) return;
  for (auto& [id, conn] : connections_) {
    if (conn.role == Role::kServerLink && !conn.joining && id != except) {
      conn.participant->deliver(line);
    }
  }
}

void NodeState::send_to_clients(const Payload& line) {
  for (auto& [id, conn] : connections_) {
    if (conn.logged_in) conn.participant->deliver(line);
  }
}

void NodeState::forward(ConnId from, std::string_view raw_line) {
  if (links_ <= 1) return;  // no other link to forward on
  send_to_links(make_payload(std::string(raw_line) + "\n"), from);
}

// --- Healing (docs/features.md, "heal/1") -----------------------------------

void NodeState::remember(const Message& m, TimePoint now) {
  auto entry = remembered_.find(m.id);
  if (entry == remembered_.end()) {
    if (remembered_.size() >= config_.limits.max_known_servers) {
      // Full: the server heard from longest ago makes room.
      auto oldest = remembered_.begin();
      for (auto it = remembered_.begin(); it != remembered_.end(); ++it) {
        if (it->second.heard < oldest->second.heard) oldest = it;
      }
      remembered_.erase(oldest);
    }
    entry = remembered_.emplace(m.id, Remembered{}).first;
  }
  entry->second = Remembered{m.hostname, m.port, m.parent, now};
}

void NodeState::become_orphan() {
  parent_ = 0;
  relayed_.clear();  // their answers would have come over the lost link
  if (!config_.extensions) return;  // as the original protocol: stay apart
  orphan_ = true;
  // The ancestors, nearest first, as their announces named them.
  ancestors_.clear();
  std::set<std::string> taken;
  for (std::string next = parent_id_; !next.empty() && taken.count(next) == 0;) {
    auto entry = remembered_.find(next);
    if (entry == remembered_.end()) break;
    ancestors_.push_back(next);
    taken.insert(next);
    next = entry->second.parent;
  }
  parent_id_.clear();
  log(LogLevel::kInfo, "lost the parent link; ", remembered_.size(),
      " servers remembered to rejoin through");
  if (config_.wake_healer) config_.wake_healer();
}

std::vector<RejoinCandidate> NodeState::rejoin_candidates() const {
  std::vector<RejoinCandidate> out;
  if (!orphan_) return out;
  // A server known now is in our own tree: not a way out. Every other one
  // heard of lately may be, wherever it was: the ancestors first, then the
  // rest by id (former children that rejoined elsewhere among them).
  const auto usable = [this](const std::string& id) {
    return known_servers_.count(id) == 0 && remembered_.count(id) != 0;
  };
  for (const std::string& id : ancestors_) {
    if (!usable(id)) continue;
    const Remembered& entry = remembered_.at(id);
    out.push_back({id, entry.hostname, entry.port});
  }
  for (const auto& [id, entry] : remembered_) {
    if (!usable(id) ||
        std::find(ancestors_.begin(), ancestors_.end(), id) != ancestors_.end()) {
      continue;
    }
    out.push_back({id, entry.hostname, entry.port});
  }
  return out;
}

void NodeState::handle_joining(ConnId id, Connection& conn, const Message& m,
                               std::string_view raw, TimePoint now) {
  if (id != joining_) {
    // An attempt already given up: it must never become a second parent.
    drop(id, nullptr, "join abandoned");
    return;
  }
  if (m.command == Command::kServerAnnounce && !conn.heard_announce) {
    // The target sends its own announce first, as every server does on a
    // new link; it says whether the target can answer a ROOT_QUERY.
    conn.heard_announce = true;
    if (!m.heal || m.id == config_.id) {
      end_join(JoinState::kRefused, m.heal ? "the target has our own id"
                                           : "the target does not advertise heal/1");
      drop(id, nullptr, "join refused");
      return;
    }
    conn.heal = true;
    conn.gone = m.gone;
    conn.peer_id = m.id;
    conn.joining_announce = m;
    conn.joining_raw.assign(raw);
    join_query_ = "join-" + std::to_string(next_query_++);
    conn.participant->deliver(make_payload(encode_root_query(join_query_, 0)));
    return;
  }
  if (m.command != Command::kRootReply || join_query_.empty() ||
      m.query != join_query_) {
    return;  // the target's network is not ours yet: nothing is taken
  }
  // Allowed only into another tree whose root answered for itself and is
  // not joining anything itself. We are busy until this ends, so no tree
  // can join ours meanwhile: the link joins two different trees
  // (docs/features.md gives the argument).
  std::string refusal;
  if (m.root.empty()) {
    refusal = "the target's root is beyond a server without heal/1";
  } else if (m.root == config_.id) {
    refusal = "the target is in our own tree";
  } else if (m.busy) {
    refusal = "the target's root is itself joining";
  }
  if (!refusal.empty()) {
    log(LogLevel::kDebug, "join through ", sample(conn.peer_id),
        " refused: ", refusal);
    end_join(JoinState::kRefused, refusal);
    drop(id, nullptr, "join refused");
    return;
  }
  conn.joining = false;
  parent_ = id;
  parent_id_ = conn.peer_id;
  orphan_ = false;
  parent_silent_ = false;
  ancestors_.clear();
  ++links_;
  log(LogLevel::kInfo, "rejoined the network through ", sample(conn.peer_id),
      " (root ", sample(m.root), m.orphan ? ", itself rejoining" : "", ")");
  conn.participant->deliver(own_announce());
  const Message announce = *conn.joining_announce;
  const std::string announce_raw = std::move(conn.joining_raw);
  conn.joining_announce.reset();
  end_join(JoinState::kJoined, {});
  handle_announce(id, announce, announce_raw, now);
}

void NodeState::handle_root_query(ConnId id, const Connection& conn,
                                  const Message& m, TimePoint now) {
  if (m.hops >= kMaxQueryHops) return;  // only a cycle takes it this far
  const auto reply = [&](std::string_view root, bool orphan, bool busy) {
    conn.participant->deliver(
        make_payload(encode_root_reply(m.query, root, orphan, busy)));
  };
  if (parent_ == 0) {
    // Busy from our own ROOT_QUERY to the end of that attempt: an attempt
    // whose target never answered (a hung server) holds nobody up.
    reply(config_.id, orphan_, joining_ != 0 && !join_query_.empty());
    return;
  }
  Connection& parent = connections_.at(parent_);
  if (!parent.heal) {
    reply("", false, false);  // the root is beyond a server without heal/1
    return;
  }
  std::size_t from_link = 0;
  for (const auto& [token, relayed] : relayed_) from_link += relayed.from == id;
  if (relayed_.size() >= kMaxRelayedQueries || from_link >= kMaxRelayedPerLink) {
    reply("", false, true);
    return;
  }
  const std::string token = "relay-" + std::to_string(next_query_++);
  relayed_[token] = RelayedQuery{id, m.query, now + kRelayedQueryLifetime};
  parent.participant->deliver(make_payload(encode_root_query(token, m.hops + 1)));
}

void NodeState::handle_root_reply(ConnId id, const Message& m) {
  if (id != parent_) return;  // answers come down from the root's side
  auto relayed = relayed_.find(m.query);
  if (relayed == relayed_.end()) return;
  auto asker = connections_.find(relayed->second.from);
  if (asker != connections_.end()) {
    asker->second.participant->deliver(make_payload(encode_root_reply(
        relayed->second.query, m.root, m.orphan, m.busy)));
  }
  relayed_.erase(relayed);
}

std::size_t NodeState::hand_off_clients() {
  if (known_servers_.empty()) return 0;
  std::map<std::string, std::uint64_t> loads;
  for (const auto& [id, server] : known_servers_) loads[id] = server.load;
  std::vector<ConnId> clients;
  for (const auto& [id, conn] : connections_) {
    if (conn.logged_in) clients.push_back(id);
  }
  for (ConnId client : clients) {
    auto target = loads.begin();
    for (auto entry = loads.begin(); entry != loads.end(); ++entry) {
      if (entry->second < target->second) target = entry;
    }
    ++target->second;  // counts the client just sent there
    const KnownServer& server = known_servers_.at(target->first);
    drop(client, make_payload(encode_redirect(server.hostname, server.port)),
         "server stopping: redirected");
  }
  return clients.size();
}

void NodeState::close_links(std::string_view reason) {
  std::vector<ConnId> links;
  for (const auto& [id, conn] : connections_) {
    if (conn.role == Role::kServerLink) links.push_back(id);
  }
  for (ConnId link : links) drop(link, nullptr, reason);
}

NodeStats NodeState::stats() const {
  NodeStats out;
  out.connections = connections_.size();
  out.load = load_;
  out.server_links = links_;
  out.known_servers = known_servers_.size();
  out.users = users_.size();
  out.pending_registrations = pending_.size();
  out.orphaned = orphan_;
  return out;
}

std::vector<std::string> NodeState::known_server_ids() const {
  std::vector<std::string> out;
  for (const auto& entry : known_servers_) out.push_back(entry.first);
  return out;
}

std::optional<std::string> NodeState::stored_secret(
    const std::string& username) const {
  auto user = users_.find(username);
  if (user == users_.end()) return std::nullopt;
  return user->second;
}

}  // namespace activity
