// Connection queue and writer (see connection.h). The writer takes every
// queued line at once and sends them with one sendmsg, so a burst of broadcasts
// costs one system call per kMaxIovecs lines rather than one per line. The
// socket has SO_SNDTIMEO set to the write deadline, so a peer that stops
// reading makes sendmsg fail with EAGAIN and the connection is aborted.
#include "connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "log.h"

namespace activity {
namespace {
// Linux's limit on iovecs per call (UIO_MAXIOV).
constexpr std::size_t kMaxIovecs = 1024;
}  // namespace

Connection::Connection(ConnId id, int fd, std::string peer,
                       ConnectionLimits limits)
    : id_(id),
      fd_(fd),
      peer_(std::move(peer)),
      limits_(limits),
      queue_limit_(limits.client_queue_bytes) {}

Connection::~Connection() {
  finish();
  reader_.join();
}

void Connection::deliver(const Payload& line) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  if (closing_ || aborted_) return;
  if (queued_bytes_ + line->size() > queue_limit_) {
    log(LogLevel::kWarn, "connection ", id_, " (", peer_,
        "): slow consumer, ", queued_bytes_, " bytes pending; disconnecting");
    abort_locked("slow consumer", true);
    return;
  }
  queued_bytes_ += line->size();
  queue_.push_back(line);
  if (queue_.size() == 1) queue_changed_.notify_one();
}

void Connection::close(const Payload& last_line, std::string_view reason) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  if (closing_ || aborted_) return;
  closing_ = true;
  close_reason_.assign(reason);
  if (last_line) {
    // The final reply is sent even past the queue limit: it is small and
    // the peer must be able to read why it was closed.
    queued_bytes_ += last_line->size();
    queue_.push_back(last_line);
  }
  queue_changed_.notify_one();
}

void Connection::set_role(Role role) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  role_ = role;
  queue_limit_ = role == Role::kServerLink ? limits_.server_queue_bytes
                                           : limits_.client_queue_bytes;
}

void Connection::abort(std::string_view reason, bool reset) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  abort_locked(reason, reset);
}

void Connection::abort_locked(std::string_view reason, bool reset) {
  if (aborted_) return;
  aborted_ = true;
  reset_on_close_ = reset;
  if (!closing_) close_reason_.assign(reason);
  closing_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  if (!fd_closed_) ::shutdown(fd_, SHUT_RDWR);
  queue_changed_.notify_all();
}

bool Connection::closing() const {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  return closing_;
}

std::string Connection::close_reason() const {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  return close_reason_;
}

Role Connection::role() const {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  return role_;
}

void Connection::start_writer() {
  writer_.start(kConnectionThreadStack, [this] { run_writer(); });
}

void Connection::run_writer() {
  std::vector<Payload> batch;
  std::vector<iovec> vectors;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_changed_.wait(lock, [this] {
        return aborted_ || !queue_.empty() || (closing_ && !flushed_);
      });
      if (aborted_) return;
      if (queue_.empty()) {  // closing with nothing left to send
        flushed_ = true;
        queue_changed_.notify_all();
        return;
      }
      batch.assign(queue_.begin(), queue_.end());
      queue_.clear();
    }
    vectors.clear();
    std::size_t total = 0;
    for (const Payload& line : batch) {
      vectors.push_back(iovec{const_cast<char*>(line->data()), line->size()});
      total += line->size();
    }
    std::size_t first = 0;
    while (first < vectors.size()) {
      const int count = static_cast<int>(
          std::min<std::size_t>(vectors.size() - first, kMaxIovecs));
      msghdr message{};
      message.msg_iov = &vectors[first];
      message.msg_iovlen = static_cast<std::size_t>(count);
      const ssize_t written = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
      if (written < 0) {
        if (errno == EINTR) continue;
        const bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
        if (timed_out) {
          log(LogLevel::kWarn, "connection ", id_, " (", peer_,
              "): write deadline passed; disconnecting slow consumer");
        }
        abort(timed_out ? "write timeout" : "write failed", timed_out);
        return;
      }
      auto left = static_cast<std::size_t>(written);
      while (left > 0 && left >= vectors[first].iov_len) {
        left -= vectors[first].iov_len;
        ++first;
      }
      if (left > 0) {
        vectors[first].iov_base = static_cast<char*>(vectors[first].iov_base) + left;
        vectors[first].iov_len -= left;
      }
    }
    batch.clear();
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queued_bytes_ = queued_bytes_ >= total ? queued_bytes_ - total : 0;
  }
}

bool Connection::wait_flushed(TimePoint deadline) {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  queue_changed_.wait_until(lock, deadline,
                            [this] { return aborted_ || flushed_; });
  if (!flushed_ || aborted_) return false;
  if (!fd_closed_) ::shutdown(fd_, SHUT_WR);
  return true;
}

void Connection::finish() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (fd_closed_) return;
    if (!aborted_) {
      aborted_ = true;
      closing_ = true;
      queue_.clear();
      ::shutdown(fd_, SHUT_RDWR);
      queue_changed_.notify_all();
    }
  }
  writer_.join();
  std::lock_guard<std::mutex> lock(queue_mutex_);
  fd_closed_ = true;
  if (reset_on_close_) {
    const linger hard{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  ::close(fd_);
}

}  // namespace activity
