// Non-blocking socket with buffers: see connection.h.
#include "connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bench {
namespace {

constexpr std::size_t kInitialInputBytes = 2048;
constexpr std::size_t kMinFreeInputBytes = 1024;
// Reads that keep filling the buffer double it up to this size; beyond it
// the buffer only grows to hold a single frame larger than that.
constexpr std::size_t kAdaptiveInputLimit = 256 * 1024;

}  // namespace

Connection::~Connection() { close(); }

bool Connection::connect_to(const SocketAddress& address, std::string& error) {
  close();
  const int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 &&
      errno != EINPROGRESS) {
    error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

bool Connection::finish_connect(std::string& error) {
  int code = 0;
  socklen_t length = sizeof code;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &code, &length) != 0) code = errno;
  if (code != 0) {
    error = std::string("connect: ") + std::strerror(code);
    return false;
  }
  return true;
}

Connection::ReadResult Connection::read_once(std::string& error) {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  std::size_t free_bytes = in_.size() - in_end_;
  const bool grow_for_speed = last_read_filled_ && in_.size() < kAdaptiveInputLimit;
  if (in_begin_ > 0 && (free_bytes < kMinFreeInputBytes || grow_for_speed || in_begin_ > in_.size() / 2)) {
    std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
    free_bytes = in_.size() - in_end_;
  }
  if (free_bytes < kMinFreeInputBytes || grow_for_speed) {
    in_.resize(std::max(kInitialInputBytes, in_.size() * 2));
    free_bytes = in_.size() - in_end_;
  }
  const ssize_t n = ::read(fd_, in_.data() + in_end_, free_bytes);
  if (n > 0) {
    in_end_ += static_cast<std::size_t>(n);
    last_read_filled_ = static_cast<std::size_t>(n) == free_bytes;
    return ReadResult::kData;
  }
  if (n == 0) return ReadResult::kClosed;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ReadResult::kWouldBlock;
  error = std::string("read: ") + std::strerror(errno);
  return ReadResult::kError;
}

void Connection::consume(std::size_t bytes) {
  in_begin_ += bytes;
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
}

bool Connection::flush(std::string& error) {
  while (out_sent_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n > 0) {
      out_sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    error = std::string("write: ") + std::strerror(errno);
    return false;
  }
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  } else if (out_sent_ > out_.size() / 2) {
    out_.erase(0, out_sent_);
    out_sent_ = 0;
  }
  return true;
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_begin_ = in_end_ = 0;
  last_read_filled_ = false;
  out_.clear();
  out_sent_ = 0;
}

}  // namespace bench
