// Connection queue and writing (see connection.h). Whoever owns the
// sending side takes every queued line at once and sends them with one
// sendmsg, so a burst of broadcasts costs one system call per kMaxIovecs
// lines rather than one per line. The socket has SO_SNDTIMEO set to the
// write deadline, so when the writer thread's blocking sendmsg finds a peer
// that stopped reading, it fails with EAGAIN and the connection is aborted.
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
  if (FlushBatch* batch = FlushBatch::current_) {
    if (!batch_listed_) {
      batch_listed_ = true;
      batch->pending_.push_back(shared_from_this());
    }
  } else if (queue_.size() == 1) {
    queue_changed_.notify_all();
  }
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
  head_offset_ = 0;
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
  Claim claim;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_changed_.wait(lock, [this] {
        return aborted_ ||
               (!writing_ && (!queue_.empty() || (closing_ && !flushed_)));
      });
      if (aborted_) return;
      if (queue_.empty()) {  // closing with nothing left to send
        flushed_ = true;
        queue_changed_.notify_all();
        return;
      }
      claim_locked(claim);
    }
    write_claim(claim, 0);
  }
}

void Connection::flush_now() {
  // Reused by every flush on this thread, so a flush allocates nothing.
  static thread_local Claim claim;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    batch_listed_ = false;
    // An owner already writing picks up the new lines when it gives back.
    if (writing_ || aborted_ || queue_.empty()) return;
    claim_locked(claim);
  }
  write_claim(claim, MSG_DONTWAIT);
}

void Connection::claim_locked(Claim& claim) {
  writing_ = true;
  claim.lines.assign(queue_.begin(), queue_.end());
  claim.offset = head_offset_;
  queue_.clear();
  head_offset_ = 0;
}

void Connection::write_claim(Claim& claim, int flags) {
  std::vector<iovec>& vectors = claim.vectors;
  vectors.clear();
  for (const Payload& line : claim.lines) {
    vectors.push_back(iovec{const_cast<char*>(line->data()), line->size()});
  }
  vectors.front().iov_base = static_cast<char*>(vectors.front().iov_base) + claim.offset;
  vectors.front().iov_len -= claim.offset;

  std::size_t first = 0;  // first iovec not completely written
  std::size_t written_total = 0;
  int error = 0;
  while (first < vectors.size()) {
    msghdr message{};
    message.msg_iov = &vectors[first];
    message.msg_iovlen = std::min(vectors.size() - first, kMaxIovecs);
    const ssize_t written = ::sendmsg(fd_, &message, MSG_NOSIGNAL | flags);
    if (written < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    auto left = static_cast<std::size_t>(written);
    written_total += left;
    while (left > 0 && left >= vectors[first].iov_len) {
      left -= vectors[first].iov_len;
      ++first;
    }
    if (left > 0) {
      vectors[first].iov_base = static_cast<char*>(vectors[first].iov_base) + left;
      vectors[first].iov_len -= left;
    }
  }

  // A full socket is the writer thread's business, unless this was the
  // writer thread: then the write deadline has passed.
  const bool full = error == EAGAIN || error == EWOULDBLOCK;
  const bool timed_out = full && (flags & MSG_DONTWAIT) == 0;
  if (timed_out) {
    log(LogLevel::kWarn, "connection ", id_, " (", peer_,
        "): write deadline passed; disconnecting slow consumer");
  }
  std::lock_guard<std::mutex> lock(queue_mutex_);
  writing_ = false;
  queued_bytes_ = queued_bytes_ >= written_total ? queued_bytes_ - written_total : 0;
  if (error != 0 && (!full || timed_out)) {
    abort_locked(timed_out ? "write timeout" : "write failed", timed_out);
  } else if (first < vectors.size() && !aborted_) {
    // The socket is full: the unwritten rest goes back to the front of the
    // queue, ahead of anything delivered meanwhile, for the writer thread.
    queue_.insert(queue_.begin(), claim.lines.begin() + static_cast<std::ptrdiff_t>(first),
                  claim.lines.end());
    head_offset_ = claim.lines[first]->size() - vectors[first].iov_len;
  }
  claim.lines.clear();
  if (!queue_.empty() || closing_ || aborted_) queue_changed_.notify_all();
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
      head_offset_ = 0;
      ::shutdown(fd_, SHUT_RDWR);
      queue_changed_.notify_all();
    }
  }
  writer_.join();
  std::unique_lock<std::mutex> lock(queue_mutex_);
  // A reader thread may still be in a non-blocking write on the socket
  // (shut down above, so it returns at once).
  queue_changed_.wait(lock, [this] { return !writing_; });
  fd_closed_ = true;
  if (reset_on_close_) {
    const linger hard{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  ::close(fd_);
}

thread_local FlushBatch* FlushBatch::current_ = nullptr;

FlushBatch::FlushBatch() : previous_(current_) { current_ = this; }

FlushBatch::~FlushBatch() {
  flush();
  current_ = previous_;
}

void FlushBatch::flush() {
  for (const auto& conn : pending_) conn->flush_now();
  pending_.clear();
}

}  // namespace activity
