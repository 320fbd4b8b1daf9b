// One connection's life (see connection.h): the read loop, the queue and
// its writing, and the close path. Whoever owns the sending side takes
// every queued line at once and sends them with one sendmsg, so a burst of
// broadcasts costs one system call per kMaxIovecs lines rather than one per
// line. The socket has SO_SNDTIMEO set to the write deadline, so when the
// writer thread's blocking sendmsg finds a peer that stopped reading, it
// fails with EAGAIN and the connection is aborted.
#include "connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <vector>

#include "line_reader.h"
#include "log.h"
#include "tcp.h"

namespace activity {
namespace {

// Linux's limit on iovecs per call (UIO_MAXIOV).
constexpr std::size_t kMaxIovecs = 1024;

int make_wake_fd() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  return fd;
}

std::string errno_text(int error) { return std::strerror(error); }

// Scratch space of a writer is kept between writes, but not without bound.
void trim_claim(std::vector<Payload>& lines, std::vector<iovec>& vectors) {
  if (lines.capacity() > kWriterScratchKeep) std::vector<Payload>().swap(lines);
  if (vectors.capacity() > kWriterScratchKeep) std::vector<iovec>().swap(vectors);
}

}  // namespace

Connection::Connection(ConnId id, int fd, std::string peer,
                       const ConnectionContext& context)
    : id_(id),
      fd_(fd),
      wake_fd_(make_wake_fd()),
      peer_(std::move(peer)),
      context_(context),
      queue_limit_(context.client_queue_bytes) {}

Connection::~Connection() {
  finish();
  reader_.join();
}

void Connection::start(bool outgoing) {
  writer_.start(kConnectionThreadStack, [this] { write_loop(); });
  try {
    // The reader gets `this`, not a shared_ptr: the server keeps the
    // connection alive until the thread is joined, and a shared_ptr held
    // by the connection's own thread would be a reference cycle.
    reader_.start(kConnectionThreadStack,
                  [this, outgoing] { read_loop(outgoing); });
  } catch (...) {
    {
      // Stops the writer without touching the socket, so the caller can
      // still send its refusal on it.
      std::lock_guard<std::mutex> lock(queue_mutex_);
      aborted_ = true;
      queue_changed_.notify_all();
    }
    writer_.join();
    throw;
  }
}

void Connection::refuse(std::string_view line) {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (!fd_closed_) {
      (void)!::send(fd_, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      // What the peer already sent would turn the close into a reset that
      // could destroy the line before it is read; take it first.
      char sink[4096];
      for (int round = 0; round < 16; ++round) {
        if (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
      }
      ::shutdown(fd_, SHUT_WR);
    }
  }
  finish();
}

// --- Reading ---------------------------------------------------------------

void Connection::read_loop(bool outgoing) {
  LineReader reader(context_.max_line_bytes, outgoing ? nullptr : context_.long_lines);
  Parser parser(ParserOptions{context_.max_line_bytes, context_.max_depth,
                              false, context_.fields});
  const TimePoint handshake_deadline = Clock::now() + context_.handshake_timeout;
  bool heard_first = outgoing;
  TimePoint line_deadline{};  // for the unfinished line, when there is one
  bool budget_exempt = outgoing;
  std::string end_reason = "closed by peer";
  const std::string line_timeout_info =
      "line not completed within " + std::to_string(context_.line_timeout.count()) + " ms";
  {
    // Deliveries this thread causes are written when the batch is flushed:
    // after every read, and before this thread waits for anything else
    // (its own close included, since the batch ends first).
    FlushBatch batch;
    while (!closing()) {
      // Deadlines are checked here, not only by poll's timeout: a peer
      // that keeps data waiting would otherwise never let poll time out.
      const TimePoint now = Clock::now();
      if (!heard_first && now >= handshake_deadline) {
        reject("no message within the handshake timeout of " +
               std::to_string(context_.handshake_timeout.count()) + " ms");
        break;
      }
      if (reader.has_partial() && now >= line_deadline) {
        reject(line_timeout_info);
        break;
      }
      int timeout = -1;
      if (!heard_first) timeout = poll_millis_until(handshake_deadline);
      if (reader.has_partial()) {
        const int line_wait = poll_millis_until(line_deadline);
        if (timeout < 0 || line_wait < timeout) timeout = line_wait;
      }
      const LineReader::Span space = reader.prepare();
      if (space.size == 0 && !reader.over_budget()) {
        reject("line exceeds the limit of " + std::to_string(context_.max_line_bytes) +
               " bytes");
        break;
      }
      // With the long-line budget spent, the socket is not read (the peer
      // waits, as TCP makes it) until another line gives budget back or
      // this line's deadline passes.
      const bool reading = space.size > 0;
      if (!reading) {
        batch.flush();
        if (timeout < 0 || timeout > kBudgetRetry.count()) {
          timeout = static_cast<int>(kBudgetRetry.count());
        }
      }
      pollfd waiting[2] = {{reading ? fd_ : -1, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int ready = poll(waiting, 2, timeout);
      if (ready < 0 && errno == EINTR) continue;
      if (!reading) {
        if (reader.has_partial() && Clock::now() >= line_deadline) {
          reject("line refused: the server's budget of " +
                 std::to_string(context_.long_lines->limit()) +
                 " bytes for long lines stayed in use for " +
                 std::to_string(context_.line_timeout.count()) + " ms");
          break;
        }
        continue;
      }
      if (ready <= 0 || (waiting[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;  // a deadline, or the wake-up: checked at the top
      }
      const bool had_partial = reader.has_partial();
      const ssize_t got = recv(fd_, space.data, space.size, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        end_reason = got == 0 ? "closed by peer" : errno_text(errno);
        break;
      }
      reader.commit(static_cast<std::size_t>(got));
      std::string_view line;
      LineReader::Status status = LineReader::Status::kNeedMore;
      bool completed = false;
      while (!closing() &&
             (status = reader.next(line)) == LineReader::Status::kLine) {
        completed = true;
        if (is_blank(line)) continue;
        heard_first = true;
        handle_line(parser, batch, line);
      }
      if (!closing() && status == LineReader::Status::kTooLong) {
        reject("line exceeds the limit of " +
               std::to_string(context_.max_line_bytes) + " bytes");
      }
      // Written once per read, after the node lock is released.
      batch.flush();
      // A server link is not held to the budget: refusing its line would
      // split the tree, and its peer has proved it holds the network secret.
      if (!budget_exempt && role() == Role::kServerLink) {
        reader.exempt_from_budget();
        budget_exempt = true;
      }
      reader.trim();
      parser.trim();
      // The unfinished line started in this read if the read completed a
      // line, or if none was unfinished before it.
      if (reader.has_partial() && (completed || !had_partial)) {
        line_deadline = Clock::now() + context_.line_timeout;
      }
    }
  }
  close_connection(std::move(end_reason));
}

void Connection::handle_line(Parser& parser, FlushBatch& batch, std::string_view line) {
  ParseResult parsed;
  if (line.size() > kLongParseBytes && context_.long_parses != nullptr) {
    // A long line's parse takes a turn, so that only a few such parser
    // buffers exist at once in the whole server. Waiting for it must not
    // hold back what this thread has delivered to others.
    batch.flush();
    Turns::Hold turn(*context_.long_parses);
    parsed = parser.parse(line, true);
  } else {
    parsed = parser.parse(line, true);
  }
  if (!parsed.ok()) {
    log(LogLevel::kDebug, "connection ", id_, " sent a bad line: ",
        redacted_sample(line, kLogSampleBytes));
    reject(parsed.error);
    return;
  }
  const Message& message = *parsed.message;
  context_.node->run([&](NodeState& node) {
    node.handle(id_, message, line, Clock::now());
  });
}

void Connection::reject(const std::string& info) {
  context_.node->run([&](NodeState& node) { node.reject(id_, info); });
}

void Connection::close_connection(std::string reason) {
  context_.node->run([&](NodeState& node) { node.remove_connection(id_); });
  if (closing()) {
    reason = close_reason();
    const TimePoint linger_end = Clock::now() + context_.linger;
    if (wait_flushed(Clock::now() + context_.write_timeout)) {
      // Drain what the peer still sends until it closes or the linger ends
      // (checked after every read: a peer that keeps sending must not
      // keep the connection open).
      char sink[4096];
      while (Clock::now() < linger_end) {
        pollfd waiting{fd_, POLLIN, 0};
        if (poll(&waiting, 1, poll_millis_until(linger_end)) <= 0) break;
        const ssize_t got = recv(fd_, sink, sizeof sink, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
      }
    }
  }
  finish();
  log(role() == Role::kServerLink ? LogLevel::kInfo : LogLevel::kDebug,
      "connection ", id_, " (", peer_, ") closed: ", reason);
  if (context_.finished) context_.finished(id_, reason);
}

// --- Queue and state ---------------------------------------------------------

void Connection::deliver(const Payload& line) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  if (closing_ || aborted_) return;
  const std::size_t cost = line->size() + kQueueEntryBytes;
  if (queued_bytes_ + cost > queue_limit_) {
    log(LogLevel::kWarn, "connection ", id_, " (", peer_,
        "): slow consumer, ", queued_bytes_, " bytes pending; disconnecting");
    abort_locked("slow consumer", true);
    return;
  }
  queued_bytes_ += cost;
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
    queued_bytes_ += last_line->size() + kQueueEntryBytes;
    queue_.push_back(last_line);
  }
  queue_changed_.notify_all();
  wake_reader_locked();
}

void Connection::set_role(Role role) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  role_ = role;
  queue_limit_ = role == Role::kServerLink ? context_.server_queue_bytes
                                           : context_.client_queue_bytes;
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
  wake_reader_locked();
}

void Connection::wake_reader_locked() {
  if (fd_closed_) return;
  const std::uint64_t one = 1;
  // Non-blocking; a counter already non-zero has woken the reader anyway.
  (void)!::write(wake_fd_, &one, sizeof one);
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

// --- Writing -------------------------------------------------------------------

void Connection::write_loop() {
  Claim claim;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      trim_claim(claim.lines, claim.vectors);
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
  trim_claim(claim.lines, claim.vectors);
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
  const std::size_t released = written_total + first * kQueueEntryBytes;
  queued_bytes_ = queued_bytes_ >= released ? queued_bytes_ - released : 0;
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
  ::close(wake_fd_);
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
