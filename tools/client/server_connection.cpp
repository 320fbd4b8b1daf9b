// A client's connection to one server (see server_connection.h). The socket
// is connected with a deadline (tcp.h) and left blocking: reads only happen
// after poll() reported data, and the input
// loop's blocking sends are what throttle a fast standard input to the
// server's pace.
#include "server_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace activity::client {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

std::string Endpoint::text() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + port_text;
  }
  return host + ":" + port_text;
}

ServerConnection::ServerConnection()
    : reader_(kDefaultMaxLineBytes),
      parser_(ParserOptions{kDefaultMaxLineBytes, kDefaultMaxDepth, true}) {}

ServerConnection::~ServerConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool ServerConnection::open(const Endpoint& endpoint, Millis timeout,
                            std::string& error) {
  fd_ = connect_tcp(endpoint.host, endpoint.port, timeout, error);
  return fd_ >= 0;
}

ServerConnection::ReadStatus ServerConnection::read(
    Message& message, std::string& error,
    std::optional<Clock::time_point> deadline, int wake_fd) {
  for (;;) {
    std::string_view line;
    switch (reader_.next(line)) {
      case LineReader::Status::kLine: {
        if (is_blank(line)) continue;
        ParseResult parsed = parser_.parse(line, true);
        if (!parsed.ok()) {
          error = std::move(parsed.error);
          return ReadStatus::kBadLine;
        }
        message = std::move(*parsed.message);
        return ReadStatus::kMessage;
      }
      case LineReader::Status::kTooLong:
        error = "line exceeds the limit of " +
                std::to_string(kDefaultMaxLineBytes) + " bytes";
        return ReadStatus::kBadLine;
      case LineReader::Status::kNeedMore:
        break;
    }
    // An unfinished line at the end of the stream is not a message.
    if (eof_) return ReadStatus::kClosed;

    pollfd waiting[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const nfds_t count = wake_fd >= 0 ? 2 : 1;
    const int ready = poll(waiting, count, deadline ? poll_millis_until(*deadline) : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      error = errno_text(errno);
      return ReadStatus::kClosed;
    }
    if (ready == 0) return ReadStatus::kTimeout;
    if (count == 2 && waiting[1].revents != 0) return ReadStatus::kWoken;

    const LineReader::Span space = reader_.prepare();
    const ssize_t n = recv(fd_, space.data, space.size, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      error = errno_text(errno);
      eof_ = true;
      return ReadStatus::kClosed;
    }
    if (n == 0) {
      eof_ = true;
      continue;  // hand out the complete lines still buffered first
    }
    reader_.commit(static_cast<std::size_t>(n));
  }
}

void ServerConnection::shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace activity::client
