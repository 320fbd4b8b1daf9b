// One TCP connection, its whole life in one place (compare nats-server's
// client.go: readLoop, writeLoop and closeConnection together): the socket,
// the read loop that frames and parses lines and hands them to the node,
// the bounded queue of outgoing lines with the writer thread that drains
// it, and the single close path. The server only accepts, starts and joins.
//
// Closing is a state change, decided anywhere: by this connection's own
// reader (a bad line, LOGOUT), by another connection's reader (a
// LOCK_DENIED failing this client's registration), by the timer (a lock
// timeout), by a writer (slow consumer) or by shutdown. close() and abort()
// set the state under the queue mutex and wake both threads: the writer
// through its condition variable, the reader through an eventfd it polls
// beside the socket. So every close ends the connection within a bounded
// time (the write deadline for the final reply, then the linger), whoever
// decided it and whatever the peer does.
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
// (shutdown, a write to the eventfd) and condition-variable signals.
#pragma once

#include <sys/uio.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "budget.h"
#include "guarded_node.h"
#include "named_limits.h"
#include "node_state.h"
#include "protocol.h"
#include "thread.h"

namespace activity {

// What every connection of a server shares: its settings, the node, the
// shared budgets, and how to report that a connection has finished.
struct ConnectionContext {
  std::size_t max_line_bytes = kDefaultMaxLineBytes;
  std::size_t max_depth = kDefaultMaxDepth;
  FieldLimits fields{};
  std::size_t client_queue_bytes = kDefaultClientQueueBytes;
  std::size_t server_queue_bytes = kDefaultServerQueueBytes;
  Millis handshake_timeout = kDefaultHandshakeTimeout;
  Millis line_timeout = kDefaultLineTimeout;
  Millis write_timeout = kDefaultWriteTimeout;
  Millis linger = kLingerAfterFinalReply;

  GuardedNode* node = nullptr;
  ByteBudget* long_lines = nullptr;
  Turns* long_parses = nullptr;
  // Called on the reader thread as its very last act: the connection's
  // threads may be joined and the connection dropped from now on.
  std::function<void(ConnId, const std::string& reason)> finished;
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
  // Takes ownership of the socket `fd`. Throws std::system_error if the
  // wake-up eventfd cannot be had (the caller then still owns `fd`).
  Connection(ConnId id, int fd, std::string peer,
             const ConnectionContext& context);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the writer and reader threads; `outgoing` marks the link this
  // server opened (it needs no first message). Throws std::system_error if
  // a thread cannot be created; then no thread is left running and the
  // socket is untouched, so the caller can refuse() the connection.
  void start(bool outgoing);
  // For a connection that could not be started: sends `line` without
  // blocking, then closes the socket.
  void refuse(std::string_view line);

  // Participant (called under the node lock; never block).
  void deliver(const Payload& line) override;
  void close(const Payload& last_line, std::string_view reason) override;
  void set_role(Role role) override;

  // Stops the connection at once: no further flushing, both directions of
  // the socket shut down so blocked reads and writes return. With `reset`,
  // the socket is closed with a reset that discards what the kernel still
  // holds for the peer (a slow consumer must not keep a backlog alive).
  void abort(std::string_view reason, bool reset = false);

  // Joins the reader thread (the server does, once finished was called).
  void join_reader() { reader_.join(); }

  ConnId id() const { return id_; }
  const std::string& peer() const { return peer_; }
  bool closing() const;
  std::string close_reason() const;
  Role role() const;

 private:
  friend class FlushBatch;

  // What one round of writing took from the queue.
  struct Claim {
    std::vector<Payload> lines;
    std::size_t offset = 0;  // bytes of lines[0] already written
    std::vector<iovec> vectors;  // scratch for sendmsg
  };

  // The reader thread: reads, frames and parses lines and applies them to
  // the node until the connection is closing, then runs the close tail.
  void read_loop(bool outgoing);
  // Hands one line to the node (parsed, or refused with INVALID_MESSAGE).
  void handle_line(Parser& parser, FlushBatch& batch, std::string_view line);
  // Sends INVALID_MESSAGE `info` and closes, through the node.
  void reject(const std::string& info);
  // The end of every connection, on its reader thread: the node forgets
  // it, the final reply is flushed, the peer's last bytes are drained for
  // the linger, the writer is joined and the socket closed.
  void close_connection(std::string reason);

  // The writer thread: writes what a non-blocking flush left behind.
  void write_loop();
  void flush_now();
  // Takes ownership of the sending side and everything queued.
  void claim_locked(Claim& claim);
  // Writes a claim; `flags` adds MSG_DONTWAIT for a non-blocking attempt.
  // Gives the sending side back: what was not written returns to the front
  // of the queue, and the writer thread is woken if anything is left.
  void write_claim(Claim& claim, int flags);
  void abort_locked(std::string_view reason, bool reset);
  // Wakes the reader out of its poll; the caller holds queue_mutex_.
  void wake_reader_locked();
  // After close(): waits (bounded) until everything queued, the final line
  // included, has been written; then shuts down the sending side so the
  // peer sees the end of the stream after the reply. Returns false if the
  // connection was aborted instead.
  bool wait_flushed(TimePoint deadline);
  // Ends the writer, joins it and closes the socket. Idempotent.
  void finish();

  const ConnId id_;
  const int fd_;
  const int wake_fd_;
  const std::string peer_;
  const ConnectionContext& context_;

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Payload> queue_;
  std::size_t head_offset_ = 0;  // bytes of queue_.front() already written
  std::size_t queued_bytes_ = 0;  // queued and being written, as accounted
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
