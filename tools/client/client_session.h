// The client's protocol session: one reader thread that owns the connection
// to the server (connect, optional REGISTER, LOGIN, following REDIRECTs,
// printing every ACTIVITY_BROADCAST, LOGOUT at the end) and a thread-safe
// entry point through which the input loop sends ACTIVITY_MESSAGEs
// concurrently. How it ends is one ExitStatus, decided by the reader
// thread, with a one-line reason on standard error naming the server.
//
// Threads and locking: the reader thread is the only one that connects,
// reads and closes sockets. mutex_ guards the state shared with the input
// loop (state_, fd_, confirmed_, replay_, input_finished_, status_). The
// input loop sends while holding mutex_, so a send never overlaps a
// redirect's switch to a new socket; the reader shuts a socket down (which
// unblocks such a send) before it takes mutex_ to retire it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "exit_status.h"
#include "named_limits.h"
#include "server_connection.h"

namespace activity::client {

struct SessionSettings {
  Endpoint server;
  std::string username = "anonymous";
  std::optional<std::string> secret;  // absent for anonymous
  bool register_first = false;        // REGISTER before the first LOGIN
  std::size_t max_redirects = 10;
  Millis connect_timeout{5000};
  Millis reply_timeout{30000};
  Millis logout_wait{1000};
  // After a logged-in connection is lost (not ended by LOGOUT): how long to
  // keep reconnecting, 0 for not at all, and where to: the lost server,
  // then `others`, then `server`, in turn, with backoff from reconnect_min
  // doubling to reconnect_max. The user logs in again, never registers.
  Millis reconnect_for{30000};
  std::vector<Endpoint> others;
  Millis reconnect_min{50};
  Millis reconnect_max{2000};
};

// Writes one received activity (compact JSON, no newline); returns false
// when it could not be written, which ends the session.
using ActivityOutput = std::function<bool(std::string_view activity)>;

class ClientSession {
 public:
  enum class SendResult {
    kSent,     // sent (or kept to resend after a redirect)
    kTooLong,  // the ACTIVITY_MESSAGE would exceed the server's line limit
    kEnded,    // the session is over; stop reading input
  };

  // `output` is called on the reader thread only.
  ClientSession(SessionSettings settings, ActivityOutput output);
  // Stops the reader thread if it still runs, and joins it.
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Starts the reader thread. Throws std::system_error on failure.
  void start();

  // Sends `activity` (a validated, compact JSON object) as ACTIVITY_MESSAGE.
  // Waits while the session is connecting, registering, logging in or
  // following a redirect. Called from the input loop; takes mutex_.
  SendResult send_activity(std::string_view activity);

  // No more input: the reader thread sends LOGOUT once logged in, then
  // waits up to logout_wait for the server to close. Takes mutex_.
  void finish_input();

  // A descriptor that becomes readable (and stays so) once the session has
  // ended, for the input loop to poll beside standard input.
  int ended_fd() const { return ended_fd_; }

  // Joins the reader thread and returns how the session ended.
  ExitStatus wait();

 private:
  enum class State { kConnecting, kLoggedIn, kEnded };

  // How one connection ended: a final status, or a redirect to follow.
  struct ConnectionOutcome {
    ExitStatus status = ExitStatus::kSuccess;
    std::optional<Endpoint> redirect;
    bool confirmed = false;  // the server kept us logged in for a while
    bool logged_in = false;  // LOGIN_SUCCESS arrived on it
    bool lost = false;       // it closed while logged in, without LOGOUT
  };

  // The reader thread's body and its parts.
  void run();
  ExitStatus run_connections();
  ConnectionOutcome run_connection(const Endpoint& target,
                                   bool register_needed);
  ExitStatus await_reply(ServerConnection& conn, const Endpoint& target,
                         Command success, Command failure);
  ConnectionOutcome serve(ServerConnection& conn, const Endpoint& target);
  // Makes `conn` the input loop's socket: resends what the previous
  // connection never processed, then LOGOUT if input has ended. Returns
  // whether LOGOUT was sent.
  bool go_live(ServerConnection& conn);
  // Sends LOGOUT if input has ended and it was not sent yet on this
  // connection. Requires mutex_ held.
  bool maybe_logout_locked(int fd, bool& logout_sent);
  void confirm();
  ExitStatus protocol_violation(ServerConnection& conn,
                                const Endpoint& target,
                                const std::string& reason);
  void drain_wake();
  // Waits `delay` unless an abort comes first; false on an abort.
  bool pause(Millis delay);
  // The server to try after `attempt` failed reconnections from `lost`.
  Endpoint reconnect_target(const Endpoint& lost, std::size_t attempt) const;
  bool abort_requested();

  std::optional<std::string_view> secret_view() const;

  SessionSettings settings_;
  ActivityOutput output_;
  int wake_fd_ = -1;   // input loop -> reader: input ended, or abort
  int ended_fd_ = -1;  // reader -> input loop: the session has ended
  std::thread reader_;

  std::mutex mutex_;
  std::condition_variable changed_;  // state_ changed
  State state_ = State::kConnecting;
  int fd_ = -1;             // the logged-in socket, while kLoggedIn
  bool confirmed_ = false;  // written by the reader thread only
  // Lines sent on the current connection before it was confirmed: if the
  // server answers the LOGIN with a REDIRECT it processes none of them,
  // so they are sent again on the next connection.
  std::vector<std::string> replay_;
  bool input_finished_ = false;
  bool abort_ = false;
  ExitStatus status_ = ExitStatus::kLocalError;
};

}  // namespace activity::client
