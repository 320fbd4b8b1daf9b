// Scripted fake server for the client tests (see fake_server.h).
#include "fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace activity::test {
namespace {

using Clock = std::chrono::steady_clock;

int millis_until(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1);
}

}  // namespace

FakePeer::FakePeer(int fd)
    : fd_(fd),
      parser_(ParserOptions{kDefaultMaxLineBytes, kDefaultMaxDepth, true}) {}

FakePeer::~FakePeer() { close(); }

void FakePeer::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void FakePeer::send_line(const std::string& line) {
  const std::string bytes = line + "\n";
  std::size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n =
        ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

std::optional<std::string> FakePeer::read_line(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const std::size_t end = buffer_.find('\n');
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      return line;
    }
    if (eof_ || fd_ < 0) return std::nullopt;
    pollfd waiting{fd_, POLLIN, 0};
    if (poll(&waiting, 1, millis_until(deadline)) <= 0) return std::nullopt;
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::optional<Message> FakePeer::read_message(Millis timeout) {
  std::optional<std::string> line = read_line(timeout);
  if (!line) return std::nullopt;
  ParseResult parsed = parser_.parse(*line);
  if (!parsed.ok()) {
    throw std::runtime_error("client sent a bad line: " + *line + " (" +
                             parsed.error + ")");
  }
  return parsed.message;
}

bool FakePeer::wait_closed(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!eof_) {
    if (fd_ < 0) return false;
    pollfd waiting{fd_, POLLIN, 0};
    if (poll(&waiting, 1, millis_until(deadline)) <= 0) return false;
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
    } else {
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  return true;
}

FakeServer::FakeServer() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  socklen_t length = sizeof address;
  if (fd_ < 0 ||
      bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd_, 16) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error(std::string("fake server: ") +
                             std::strerror(error));
  }
  port_ = ntohs(address.sin_port);
}

FakeServer::~FakeServer() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<FakePeer> FakeServer::accept(Millis timeout) {
  pollfd waiting{fd_, POLLIN, 0};
  if (poll(&waiting, 1, static_cast<int>(timeout.count())) <= 0) {
    return nullptr;
  }
  const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return nullptr;
  return std::make_unique<FakePeer>(fd);
}

}  // namespace activity::test
