// One TCP connection as the node sees it: it owns the socket, a bounded
// queue of outgoing lines and the writer thread that drains it. deliver()
// only appends a shared line to the queue, so a broadcast never waits for a
// slow peer; a peer whose queue passes its class's byte limit, or that
// blocks a write past the write deadline, is disconnected as a slow
// consumer. The reader side (Server::serve) reads and parses lines and
// carries the connection through its single close path.
//
// Sending: one thread at a time owns the socket's sending side (writing_).
// Usually that is the reader thread whose lines caused the deliveries: a
// FlushBatch collects the connections it delivered to and, once the node
// lock is released, writes each one's queue with one non-blocking sendmsg.
// Only what the socket does not take at once is left to the connection's
// writer thread, which waits for it with the write deadline. So a burst of
// broadcasts costs one system call per receiver and no thread wake-up,
// while a slow peer still never blocks anybody but its own writer.
//
// Locking: queue_mutex_ guards the queue, the state flags and the socket's
// lifetime. It is the innermost lock: it may be taken under the node mutex,
// and nothing is called while holding it but non-blocking system calls
// (shutdown) and condition-variable signals.
#pragma once

#include <sys/uio.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "named_limits.h"
#include "node_state.h"
#include "thread.h"

namespace activity {

struct ConnectionLimits {
  std::size_t client_queue_bytes = kDefaultClientQueueBytes;
  std::size_t server_queue_bytes = kDefaultServerQueueBytes;
};

class Connection;

// Collects the connections that this thread delivered to while it is
// installed, so that they are written once, after the node lock is
// released, instead of waking each one's writer thread per line. One per
// reader thread; flush() before the thread waits for input again.
class FlushBatch {
 public:
  FlushBatch();
  ~FlushBatch();  // flushes what is left
  FlushBatch(const FlushBatch&) = delete;
  FlushBatch& operator=(const FlushBatch&) = delete;

  // Writes every listed connection's queue without blocking; what a socket
  // does not take is handed to that connection's writer thread.
  void flush();

 private:
  friend class Connection;
  static thread_local FlushBatch* current_;
  std::vector<std::shared_ptr<Connection>> pending_;
  FlushBatch* previous_;
};

class Connection : public Participant,
                   public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnId id, int fd, std::string peer, ConnectionLimits limits);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Participant (called under the node lock; never block).
  void deliver(const Payload& line) override;
  void close(const Payload& last_line, std::string_view reason) override;
  void set_role(Role role) override;

  // Stops the connection at once: no further flushing, both directions of
  // the socket shut down so blocked reads and writes return. With `reset`,
  // the socket is closed with a reset that discards what the kernel still
  // holds for the peer (a slow consumer must not keep a backlog alive).
  void abort(std::string_view reason, bool reset = false);

  void start_writer();
  // After close(): waits (bounded) until everything queued, the final line
  // included, has been written; then shuts down the sending side so the
  // peer sees the end of the stream after the reply. Returns false if the
  // connection was aborted instead.
  bool wait_flushed(TimePoint deadline);
  // Ends the writer, joins it and closes the socket. Idempotent.
  void finish();

  ConnId id() const { return id_; }
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }
  bool closing() const;
  std::string close_reason() const;
  Role role() const;

  // The reader thread, owned here so the server can join it.
  Thread& reader_thread() { return reader_; }

 private:
  friend class FlushBatch;

  // What one round of writing took from the queue.
  struct Claim {
    std::vector<Payload> lines;
    std::size_t offset = 0;  // bytes of lines[0] already written
    std::vector<iovec> vectors;  // scratch for sendmsg
  };

  void run_writer();
  void flush_now();
  // Takes ownership of the sending side and everything queued.
  void claim_locked(Claim& claim);
  // Writes a claim; `flags` adds MSG_DONTWAIT for a non-blocking attempt.
  // Gives the sending side back: what was not written returns to the front
  // of the queue, and the writer thread is woken if anything is left.
  void write_claim(Claim& claim, int flags);
  void abort_locked(std::string_view reason, bool reset);

  const ConnId id_;
  const int fd_;
  const std::string peer_;
  const ConnectionLimits limits_;

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Payload> queue_;
  std::size_t head_offset_ = 0;  // bytes of queue_.front() already written
  std::size_t queued_bytes_ = 0;  // queued and being written
  bool writing_ = false;          // a thread owns the sending side
  bool batch_listed_ = false;     // some FlushBatch will flush this
  std::size_t queue_limit_;
  Role role_ = Role::kNone;
  bool closing_ = false;   // no more lines accepted; flush then end
  bool aborted_ = false;   // stop now, drop what is queued
  bool flushed_ = false;   // closing and everything queued was written
  bool fd_closed_ = false;
  bool reset_on_close_ = false;
  std::string close_reason_;

  Thread writer_;
  Thread reader_;
};

}  // namespace activity
