// Protocol decisions of one server (see node_state.h): roles and states of
// connections (PROTOCOL.md section 2), the tree of server links and the
// known-server table (section 3), login and redirect (section 4),
// activities (section 5) and lock rounds for registration (section 6).
#include "node_state.h"

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
      return true;
    default:
      return false;
  }
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

std::string describe(Role role) {
  switch (role) {
    case Role::kNone: return "an unauthenticated connection";
    case Role::kClient: return "a client connection";
    case Role::kServerLink: return "a server link";
  }
  return "a connection";
}

}  // namespace

NodeState::NodeState(NodeConfig config) : config_(std::move(config)) {}

void NodeState::add_connection(ConnId id,
                               std::shared_ptr<Participant> participant) {
  Connection conn;
  conn.participant = std::move(participant);
  connections_.emplace(id, std::move(conn));
}

void NodeState::add_outgoing_link(ConnId id,
                                  std::shared_ptr<Participant> participant,
                                  TimePoint now) {
  (void)now;
  Connection conn;
  conn.participant = std::move(participant);
  conn.role = Role::kServerLink;
  conn.participant->set_role(Role::kServerLink);
  auto& stored = connections_.emplace(id, std::move(conn)).first->second;
  ++links_;
  stored.participant->deliver(make_payload(
      encode_server_announce(config_.id, load_, config_.hostname,
                             config_.port)));
}

void NodeState::handle(ConnId id, const Message& message,
                       std::string_view raw_line, TimePoint now) {
  auto found = connections_.find(id);
  if (found == connections_.end()) return;  // already closed
  Connection& conn = found->second;
  const Command command = message.command;

  // A peer reporting our error: log it, close, never answer (section 2).
  if (command == Command::kInvalidMessage ||
      command == Command::kAuthenticationFail) {
    log(LogLevel::kWarn, "connection ", id, " reported ",
        command_name(command), ": ",
        printable_sample(message.info, kLogSampleBytes));
    drop(id, nullptr,
         "peer sent " + std::string(command_name(command)) + ": " +
             printable_sample(message.info, kLogSampleBytes));
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
  (void)now;
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
  ++links_;
  log(LogLevel::kInfo, "connection ", id, " is now a server link");
  conn.participant->deliver(make_payload(encode_server_announce(
      config_.id, load_, config_.hostname, config_.port)));
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
  log(LogLevel::kDebug, "connection ", id, " logged in as ", m.username);
  conn.participant->deliver(make_payload(encode_info_message(
      Command::kLoginSuccess, "logged in as user " + m.username)));

  if (std::optional<std::string> target = pick_redirect()) {
    const KnownServer& server = known_servers_.at(*target);
    log(LogLevel::kDebug, "redirecting connection ", id, " to ",
        server.hostname, ":", server.port);
    drop(id, make_payload(encode_redirect(server.hostname, server.port)),
         "redirected");
  }
}

std::optional<std::string> NodeState::pick_redirect() const {
  // The load counts the client that just logged in (section 4).
  const std::optional<std::string> none;
  const std::string* best = nullptr;
  std::uint64_t best_load = 0;
  for (const auto& [id, server] : known_servers_) {
    if (server.load + 2 > load_) continue;
    if (best == nullptr || server.load < best_load) {
      best = &id;
      best_load = server.load;
    }
  }
  return best == nullptr ? none : std::optional<std::string>(*best);
}

void NodeState::handle_register(ConnId id, Connection& conn, const Message& m,
                                TimePoint now) {
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
  if (users_.count(m.username) != 0) {
    reply_and_close(id, Command::kRegisterFailed,
                    m.username + " is already registered with the system");
    return;
  }
  users_[m.username] = m.secret;
  PendingRegistration round;
  round.secret = m.secret;
  round.client = id;
  round.deadline = now + config_.lock_timeout;
  for (const auto& entry : known_servers_) round.noted.insert(entry.first);
  send_to_links(
      make_payload(encode_lock(Command::kLockRequest, m.username, m.secret)));
  if (round.noted.empty()) {
    log(LogLevel::kInfo, "registered ", m.username, " (no other server known)");
    conn.participant->deliver(make_payload(encode_info_message(
        Command::kRegisterSuccess, "register success for " + m.username)));
    return;
  }
  log(LogLevel::kInfo, "lock round for ", m.username, " waits on ",
      round.noted.size(), " servers");
  conn.pending = m.username;
  pending_.emplace(m.username, std::move(round));
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
  if (m.id == config_.id) return;  // our own, come round: drop it
  KnownServer& server = known_servers_[m.id];
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
  if (user != users_.end() && !secrets_equal(user->second, m.secret)) {
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
  PendingRegistration& pending = round->second;
  if (m.has_server) {
    if (pending.noted.count(m.server) == 0) return;  // not noted: ignored
    pending.answered.insert(m.server);
  } else {
    ++pending.unnamed_allowed;
  }
  check_round(m.username);
}

bool NodeState::check_round(const std::string& username) {
  auto round = pending_.find(username);
  if (round == pending_.end()) return true;
  PendingRegistration& pending = round->second;
  std::size_t still_known = 0;
  std::size_t answered = 0;
  for (const std::string& id : pending.noted) {
    if (known_servers_.count(id) == 0) continue;
    ++still_known;
    if (pending.answered.count(id) != 0) ++answered;
  }
  if (answered + pending.unnamed_allowed < still_known) return false;
  log(LogLevel::kInfo, "registered ", username);
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
  log(LogLevel::kInfo, "registration of ", username, " failed: ", info);
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
  }
}

void NodeState::forget_server(const std::string& id) {
  known_servers_.erase(id);
}

void NodeState::announce() {
  if (links_ == 0) return;
  send_to_links(make_payload(encode_server_announce(
      config_.id, load_, config_.hostname, config_.port)));
}

void NodeState::expire(TimePoint now) {
  std::vector<std::string> silent;
  for (const auto& [id, server] : known_servers_) {
    if (now - server.seen >= config_.server_timeout) silent.push_back(id);
  }
  for (const std::string& id : silent) {
    log(LogLevel::kInfo, "forgetting server ", id, ": silent too long");
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
    if (conn.role == Role::kServerLink && id != except) {
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

NodeStats NodeState::stats() const {
  NodeStats out;
  out.connections = connections_.size();
  out.load = load_;
  out.server_links = links_;
  out.known_servers = known_servers_.size();
  out.users = users_.size();
  out.pending_registrations = pending_.size();
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
