// The client's session logic (see client_session.h): the login sequence,
// REDIRECT handling and the reader loop, all on the reader thread, plus
// the two entry points the input loop calls.
//
// Why replaying after a redirect is safe: a server decides on REDIRECT
// while it handles the LOGIN (PROTOCOL.md section 4) and sends it straight
// after LOGIN_SUCCESS, then closes without reading further. So when a
// REDIRECT arrives, nothing sent after the LOGIN was processed, and the
// lines kept in replay_ are sent again, in order, on the next connection.
// Once any other message has arrived after LOGIN_SUCCESS (the sender's own
// ACTIVITY_BROADCAST comes back at the latest) the server has kept us, and
// nothing more is kept for replay.
//
// A lost connection is different: the server may have processed what was
// sent on it, so nothing is sent again after a reconnection. An activity in
// flight when a server is lost can be lost; none is ever sent twice.
#include "client_session.h"

#include <poll.h>

#include <algorithm>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "log.h"
#include "protocol.h"
#include "tcp.h"

namespace activity::client {
namespace {

constexpr std::size_t kMaxReasonBytes = 300;

// Text from the server (an `info`, a hostname) made safe for one log line:
// control characters become '?', and it is cut at kMaxReasonBytes.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxReasonBytes)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
  }
  if (text.size() > kMaxReasonBytes) out += "...";
  return out;
}

std::string reason_of(const Message& message) {
  return message.info.empty() ? std::string("(the server gave no reason)")
                              : printable(message.info);
}

// INVALID_MESSAGE and AUTHENTICATION_FAIL end the session whenever they
// arrive; they are logged and never answered (PROTOCOL.md section 2).
std::optional<ExitStatus> peer_error(const Message& message,
                                     const Endpoint& target) {
  switch (message.command) {
    case Command::kInvalidMessage:
      log(LogLevel::kError, target.text(),
          " answered INVALID_MESSAGE: ", reason_of(message));
      return ExitStatus::kInvalidMessage;
    case Command::kAuthenticationFail:
      log(LogLevel::kError, target.text(),
          " answered AUTHENTICATION_FAIL: ", reason_of(message));
      return ExitStatus::kAuthenticationFail;
    default:
      return std::nullopt;
  }
}

int make_eventfd() {
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  return fd;
}

void signal_eventfd(int fd) {
  const std::uint64_t one = 1;
  ssize_t written = 0;
  do {
    written = ::write(fd, &one, sizeof one);
  } while (written < 0 && errno == EINTR);
}

}  // namespace

ClientSession::ClientSession(SessionSettings settings, ActivityOutput output)
    : settings_(std::move(settings)), output_(std::move(output)) {
  wake_fd_ = make_eventfd();
  try {
    ended_fd_ = make_eventfd();
  } catch (...) {
    ::close(wake_fd_);
    throw;
  }
}

ClientSession::~ClientSession() {
  if (reader_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      abort_ = true;
    }
    signal_eventfd(wake_fd_);
    reader_.join();
  }
  ::close(wake_fd_);
  ::close(ended_fd_);
}

void ClientSession::start() { reader_ = std::thread([this] { run(); }); }

ClientSession::SendResult ClientSession::send_activity(
    std::string_view activity) {
  std::string line =
      encode_activity_message(settings_.username, secret_view(), activity);
  // The server's limit counts the line without its '\n'.
  if (line.size() - 1 > kDefaultMaxLineBytes) return SendResult::kTooLong;
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return state_ != State::kConnecting; });
  if (state_ == State::kEnded) return SendResult::kEnded;
  // A failed send needs no handling here: the reader thread sees the same
  // connection end (or the REDIRECT before it) and acts on it.
  send_all(fd_, line);
  if (!confirmed_) replay_.push_back(std::move(line));
  return SendResult::kSent;
}

void ClientSession::finish_input() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    input_finished_ = true;
  }
  signal_eventfd(wake_fd_);
}

ExitStatus ClientSession::wait() {
  if (reader_.joinable()) reader_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

void ClientSession::run() {
  ExitStatus status = ExitStatus::kLocalError;
  try {
    status = run_connections();
  } catch (const std::exception& error) {
    log(LogLevel::kError, "client error: ", error.what());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State::kEnded;
    fd_ = -1;
    status_ = status;
  }
  changed_.notify_all();
  signal_eventfd(ended_fd_);
}

ExitStatus ClientSession::run_connections() {
  Endpoint target = settings_.server;
  bool register_needed = settings_.register_first;
  std::size_t redirects = 0;  // in a row, without a confirmed login between
  // While reconnecting after a loss: when to give up, the server lost, and
  // the attempts made.
  std::optional<Clock::time_point> give_up;
  Endpoint lost;
  std::size_t attempts = 0;
  Millis backoff = settings_.reconnect_min;
  for (;;) {
    const ConnectionOutcome outcome = run_connection(target, register_needed);
    if (outcome.logged_in) {
      give_up.reset();
      backoff = settings_.reconnect_min;
    }
    if (!outcome.redirect) {
      const bool retry = outcome.lost ||
                         (give_up && outcome.status == ExitStatus::kConnectionFailed);
      if (!retry || settings_.reconnect_for.count() == 0) return outcome.status;
      if (!give_up) {
        give_up = Clock::now() + settings_.reconnect_for;
        lost = target;
        attempts = 0;
        std::lock_guard<std::mutex> lock(mutex_);
        replay_.clear();  // at most once: the lost server may have sent them on
        log(LogLevel::kWarn, "reconnecting for up to ",
            settings_.reconnect_for.count(), " ms");
      }
      if (Clock::now() >= *give_up) {
        log(LogLevel::kError, "could not reconnect within ",
            settings_.reconnect_for.count(), " ms; giving up");
        return ExitStatus::kConnectionFailed;
      }
      if (!pause(backoff)) return ExitStatus::kLocalError;
      backoff = std::min(settings_.reconnect_max, backoff * 2);
      target = reconnect_target(lost, attempts++);
      register_needed = false;  // the user exists: log in again only
      continue;
    }
    register_needed = false;  // the user exists network-wide now
    if (outcome.confirmed) redirects = 0;
    if (redirects == settings_.max_redirects) {
      log(LogLevel::kError, "too many redirects: ", target.text(),
          " redirected to ", printable(outcome.redirect->text()), " after ",
          redirects, " redirect(s) in a row (limit --max-redirects ",
          settings_.max_redirects, ")");
      return ExitStatus::kTooManyRedirects;
    }
    ++redirects;
    target = *outcome.redirect;
  }
}

ClientSession::ConnectionOutcome ClientSession::run_connection(
    const Endpoint& target, bool register_needed) {
  ConnectionOutcome outcome;
  ServerConnection conn;
  std::string error;
  if (!conn.open(target, settings_.connect_timeout, error)) {
    log(LogLevel::kError, "cannot connect to ", printable(target.text()),
        ": ", error);
    outcome.status = ExitStatus::kConnectionFailed;
    return outcome;
  }
  log(LogLevel::kInfo, "connected to ", target.text());
  if (register_needed) {
    conn.send(encode_register(settings_.username, secret_view().value_or("")));
    outcome.status = await_reply(conn, target, Command::kRegisterSuccess,
                                 Command::kRegisterFailed);
    if (outcome.status != ExitStatus::kSuccess) return outcome;
    log(LogLevel::kInfo, "registered ", settings_.username, " on ",
        target.text());
  }
  conn.send(encode_login(settings_.username, secret_view()));
  outcome.status = await_reply(conn, target, Command::kLoginSuccess,
                               Command::kLoginFailed);
  if (outcome.status != ExitStatus::kSuccess) return outcome;
  outcome.logged_in = true;
  log(LogLevel::kInfo, "logged in as ", settings_.username, " on ",
      target.text());

  outcome = serve(conn, target);
  outcome.logged_in = true;

  // Retire the socket: unblock a send in progress in the input loop, then
  // take the socket away from it before `conn` closes it.
  conn.shutdown();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fd_ = -1;
    if (state_ == State::kLoggedIn) state_ = State::kConnecting;
  }
  return outcome;
}

ExitStatus ClientSession::await_reply(ServerConnection& conn,
                                      const Endpoint& target,
                                      Command success, Command failure) {
  const bool login = success == Command::kLoginSuccess;
  const char* request = login ? "LOGIN" : "REGISTER";
  const auto deadline = Clock::now() + settings_.reply_timeout;
  for (;;) {
    Message message;
    std::string error;
    switch (conn.read(message, error, deadline, wake_fd_)) {
      case ServerConnection::ReadStatus::kWoken:
        // Input may have ended; LOGOUT waits until the login is done.
        drain_wake();
        if (abort_requested()) return ExitStatus::kLocalError;
        continue;
      case ServerConnection::ReadStatus::kTimeout:
        log(LogLevel::kError, "no answer to ", request, " from ",
            target.text(), " within ", settings_.reply_timeout.count(),
            " ms");
        return ExitStatus::kConnectionFailed;
      case ServerConnection::ReadStatus::kClosed:
        log(LogLevel::kError, target.text(),
            " closed the connection before answering ", request,
            error.empty() ? "" : ": ", error);
        return ExitStatus::kConnectionFailed;
      case ServerConnection::ReadStatus::kBadLine:
        return protocol_violation(conn, target, error);
      case ServerConnection::ReadStatus::kMessage:
        break;
    }
    if (message.command == success) return ExitStatus::kSuccess;
    if (message.command == failure) {
      log(LogLevel::kError, login ? "login as " : "registration of ",
          settings_.username, " failed on ", target.text(), ": ",
          reason_of(message));
      return login ? ExitStatus::kLoginFailed : ExitStatus::kRegisterFailed;
    }
    if (std::optional<ExitStatus> status = peer_error(message, target)) {
      return *status;
    }
    return protocol_violation(conn, target,
                              std::string(command_name(message.command)) +
                                  " is not an answer to " + request);
  }
}

ClientSession::ConnectionOutcome ClientSession::serve(ServerConnection& conn,
                                                      const Endpoint& target) {
  ConnectionOutcome outcome;
  bool logout_sent = go_live(conn);
  std::optional<Clock::time_point> deadline;
  if (logout_sent) deadline = Clock::now() + settings_.logout_wait;
  for (;;) {
    Message message;
    std::string error;
    switch (conn.read(message, error, deadline, wake_fd_)) {
      case ServerConnection::ReadStatus::kWoken: {
        drain_wake();
        if (abort_requested()) {
          outcome.status = ExitStatus::kLocalError;
          return outcome;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (maybe_logout_locked(conn.fd(), logout_sent)) {
          deadline = Clock::now() + settings_.logout_wait;
        }
        continue;
      }
      case ServerConnection::ReadStatus::kTimeout:
        log(LogLevel::kWarn, target.text(),
            " did not close the connection within ",
            settings_.logout_wait.count(), " ms of LOGOUT; closing it");
        outcome.status = ExitStatus::kSuccess;
        return outcome;
      case ServerConnection::ReadStatus::kClosed:
        if (logout_sent) {
          log(LogLevel::kInfo, "logged out; ", target.text(),
              " closed the connection");
          outcome.status = ExitStatus::kSuccess;
        } else {
          log(LogLevel::kError, "connection to ", target.text(), " lost",
              error.empty() ? "" : ": ", error);
          outcome.status = ExitStatus::kConnectionFailed;
          outcome.lost = true;
        }
        return outcome;
      case ServerConnection::ReadStatus::kBadLine:
        outcome.status = protocol_violation(conn, target, error);
        return outcome;
      case ServerConnection::ReadStatus::kMessage:
        break;
    }
    switch (message.command) {
      case Command::kActivityBroadcast:
        confirm();
        if (!output_(message.activity)) {
          log(LogLevel::kError,
              "cannot write standard output; closing the connection to ",
              target.text());
          outcome.status = ExitStatus::kLocalError;
          return outcome;
        }
        continue;
      case Command::kRedirect:
        outcome.redirect = Endpoint{message.hostname, message.port};
        outcome.confirmed = confirmed_;
        log(LogLevel::kInfo, "redirected by ", target.text(), " to ",
            printable(outcome.redirect->text()));
        return outcome;
      default:
        break;
    }
    if (std::optional<ExitStatus> status = peer_error(message, target)) {
      outcome.status = *status;
      return outcome;
    }
    outcome.status = protocol_violation(
        conn, target,
        "unexpected " + std::string(command_name(message.command)) +
            " on a logged-in client connection");
    return outcome;
  }
}

bool ClientSession::go_live(ServerConnection& conn) {
  bool logout_sent = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!replay_.empty()) {
      log(LogLevel::kInfo, "sending again ", replay_.size(),
          " activity message(s) the previous server did not process");
    }
    for (const std::string& line : replay_) conn.send(line);
    confirmed_ = false;
    fd_ = conn.fd();
    state_ = State::kLoggedIn;
    maybe_logout_locked(fd_, logout_sent);
  }
  changed_.notify_all();
  return logout_sent;
}

bool ClientSession::maybe_logout_locked(int fd, bool& logout_sent) {
  if (!input_finished_ || logout_sent) return false;
  send_all(fd, encode_logout());
  logout_sent = true;
  return true;
}

void ClientSession::confirm() {
  if (confirmed_) return;  // only this thread writes confirmed_
  std::lock_guard<std::mutex> lock(mutex_);
  confirmed_ = true;
  replay_.clear();
  replay_.shrink_to_fit();
}

ExitStatus ClientSession::protocol_violation(ServerConnection& conn,
                                             const Endpoint& target,
                                             const std::string& reason) {
  log(LogLevel::kError, target.text(), " sent a bad message: ",
      printable(reason), "; answered INVALID_MESSAGE and closed");
  conn.send(encode_info_message(Command::kInvalidMessage, reason));
  return ExitStatus::kProtocolError;
}

void ClientSession::drain_wake() {
  std::uint64_t count = 0;
  while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

bool ClientSession::pause(Millis delay) {
  const Clock::time_point until = Clock::now() + delay;
  for (;;) {
    pollfd wake{wake_fd_, POLLIN, 0};
    const int ready = poll(&wake, 1, poll_millis_until(until));
    if (ready > 0) {
      drain_wake();
      if (abort_requested()) return false;
      continue;  // input ended: LOGOUT goes out once logged in again
    }
    if (ready == 0 || Clock::now() >= until) return true;
  }
}

Endpoint ClientSession::reconnect_target(const Endpoint& lost,
                                         std::size_t attempt) const {
  std::vector<Endpoint> order{lost};
  auto add = [&order](const Endpoint& endpoint) {
    const bool seen = std::any_of(order.begin(), order.end(), [&](const Endpoint& e) {
      return e.host == endpoint.host && e.port == endpoint.port;
    });
    if (!seen) order.push_back(endpoint);
  };
  for (const Endpoint& other : settings_.others) add(other);
  add(settings_.server);
  return order[attempt % order.size()];
}

bool ClientSession::abort_requested() {
  std::lock_guard<std::mutex> lock(mutex_);
  return abort_;
}

std::optional<std::string_view> ClientSession::secret_view() const {
  if (!settings_.secret) return std::nullopt;
  return std::string_view(*settings_.secret);
}

}  // namespace activity::client
