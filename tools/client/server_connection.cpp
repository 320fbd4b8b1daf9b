// A client's connection to one server (see server_connection.h). The socket
// is connected non-blocking so the connect can time out, then switched back
// to blocking: reads only happen after poll() reported data, and the input
// loop's blocking sends are what throttle a fast standard input to the
// server's pace.
#include "server_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace activity::client {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

// Milliseconds left until `deadline` for poll(): -1 without a deadline,
// never negative, rounded up so poll does not wake just before it.
int poll_timeout(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  const auto left = *deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
  return millis > 1000000 ? 1000000 : static_cast<int>(millis);
}

// Connects `fd` (non-blocking) to `address` within `timeout`; 0 or errno.
int connect_within(int fd, const addrinfo& address, Millis timeout) {
  if (connect(fd, address.ai_addr, address.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd waiting{fd, POLLOUT, 0};
    const int ready = poll(&waiting, 1, poll_timeout(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) return ETIMEDOUT;
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return errno;
    }
    return error;
  }
}

}  // namespace

std::string Endpoint::text() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + port_text;
  }
  return host + ":" + port_text;
}

bool send_all(int fd, std::string_view bytes) {
  if (fd < 0) return false;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

ServerConnection::ServerConnection()
    : reader_(kDefaultMaxLineBytes),
      parser_(ParserOptions{kDefaultMaxLineBytes, kDefaultMaxDepth, true}) {}

ServerConnection::~ServerConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool ServerConnection::open(const Endpoint& endpoint, Millis timeout,
                            std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(endpoint.port);
  const int lookup =
      getaddrinfo(endpoint.host.c_str(), service.c_str(), &hints, &found);
  if (lookup != 0) {
    error = std::string("cannot resolve host: ") + gai_strerror(lookup);
    return false;
  }
  error = "no address";
  for (const addrinfo* entry = found; entry != nullptr;
       entry = entry->ai_next) {
    const int fd =
        socket(entry->ai_family,
               entry->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
               entry->ai_protocol);
    if (fd < 0) {
      error = errno_text(errno);
      continue;
    }
    const int result = connect_within(fd, *entry, timeout);
    if (result == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      freeaddrinfo(found);
      fd_ = fd;
      return true;
    }
    error = errno_text(result);
    ::close(fd);
  }
  freeaddrinfo(found);
  return false;
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
    const int ready = poll(waiting, count, poll_timeout(deadline));
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
