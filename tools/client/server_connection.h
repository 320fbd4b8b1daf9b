// One TCP connection from the client to a server: connecting with a
// deadline over every address getaddrinfo gives (IPv6 and IPv4), sending
// whole lines without SIGPIPE, and reading protocol messages where every
// wait has a deadline and can be cut short by a wakeup descriptor. It knows
// the wire format (framing and parsing) but not the login/redirect logic,
// which lives in client_session.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "line_reader.h"
#include "named_limits.h"
#include "protocol.h"
#include "tcp.h"

namespace activity::client {

using Clock = std::chrono::steady_clock;

// Where a server listens, as the user or a REDIRECT named it.
struct Endpoint {
  std::string host;
  std::uint16_t port = kDefaultPort;

  // "host:port", or "[v6-address]:port" for an IPv6 literal.
  std::string text() const;
};

class ServerConnection {
 public:
  enum class ReadStatus {
    kMessage,  // `message` holds the next message
    kClosed,   // the server closed (or reset) the connection
    kTimeout,  // the deadline passed first
    kWoken,    // the wakeup descriptor became readable (not drained here)
    kBadLine,  // the server sent a line that is not a valid message
  };

  ServerConnection();
  ~ServerConnection();  // closes the socket
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Resolves and connects, trying each address in turn, each for at most
  // `timeout`. On failure returns false with a one-line reason in `error`.
  bool open(const Endpoint& endpoint, Millis timeout, std::string& error);

  int fd() const { return fd_; }

  // Sends one encoded line (see send_all).
  bool send(std::string_view line) { return send_all(fd_, line); }

  // Reads the next message. Blank lines are skipped. `deadline` empty:
  // wait without limit. `wake_fd` < 0: no wakeup descriptor. On kClosed
  // `error` holds the reason when it was not a clean close; on kBadLine it
  // holds the INVALID_MESSAGE info to answer with.
  ReadStatus read(Message& message, std::string& error,
                  std::optional<Clock::time_point> deadline, int wake_fd);

  // Shuts the socket down in both directions without closing it, so a
  // send blocked in another thread returns at once. Idempotent.
  void shutdown();

 private:
  int fd_ = -1;
  bool eof_ = false;
  LineReader reader_;
  Parser parser_;
};

}  // namespace activity::client
