// TCP helpers (see tcp.h). The socket connects non-blocking so that the
// connect can time out, then is switched back to blocking mode.
#include "tcp.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace activity {
namespace {

// Connects the non-blocking `fd` to `address` within `timeout`; returns 0
// or an errno value.
int connect_within(int fd, const addrinfo& address, Millis timeout) {
  if (connect(fd, address.ai_addr, address.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pollfd waiting{fd, POLLOUT, 0};
    const int ready = poll(&waiting, 1, poll_millis_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) return ETIMEDOUT;
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
  }
}

}  // namespace

int connect_tcp(const std::string& host, std::uint16_t port, Millis timeout,
                std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int lookup = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (lookup != 0) {
    error = std::string("cannot resolve host: ") + gai_strerror(lookup);
    return -1;
  }
  error = "no address";
  for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    const int fd = socket(entry->ai_family,
                          entry->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          entry->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int result = connect_within(fd, *entry, timeout);
    if (result == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      freeaddrinfo(found);
      return fd;
    }
    error = std::strerror(result);
    ::close(fd);
  }
  freeaddrinfo(found);
  return -1;
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

int poll_millis_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
  return millis > INT_MAX ? INT_MAX : static_cast<int>(millis);
}

}  // namespace activity
