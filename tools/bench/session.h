// A session is one simulated client: one TCP connection (renewed when the
// server redirects it) speaking one protocol. This base class owns the
// connection and its life cycle - connect, handshake, ready, closed - and
// the redirect policy; the subclasses (ActivitySession, NatsSession) only
// frame and interpret bytes. A session never calls the scenario directly: it
// reports to its SessionHost (the pool), which owns the event loop, keeps
// the list of sessions with output to flush, and passes events on.
//
// Every (re)connection gets a new generation number, which is part of the
// epoll token, so an event that was already queued for a socket that has
// since been closed is recognised and dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "activity_payload.h"
#include "bench_options.h"
#include "connection.h"
#include "endpoint.h"

namespace bench {

class EventLoop;
class Session;

enum class SessionRole {
  kStream,    // log in and receive every activity (NATS: subscribe)
  kIdle,      // log in and stay quiet
  kRegister,  // connect only; the scenario sends REGISTER
};

// What a session needs from its owner. Called on the loop thread only.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual EventLoop& loop() = 0;
  virtual Resolver& resolver() = 0;
  // The session has appended output; flush it once the current batch of
  // events has been handled.
  virtual void mark_dirty(Session& session) = 0;
  // Call session.start() again at `at_ns` (redirect policy "stay").
  virtual void start_later(Session& session, std::int64_t at_ns) = 0;

  virtual void on_session_ready(Session& session) = 0;
  // A ready session was redirected: it is logging in again elsewhere.
  virtual void on_session_unready(Session& session) = 0;
  virtual void on_session_activity(Session& session, const ActivityStamp& stamp) = 0;
  virtual void on_session_register_reply(Session& session, bool success, std::string_view info) = 0;
  // The session is closed for good; `reason` says why.
  virtual void on_session_failed(Session& session, const std::string& reason) = 0;
};

class Session {
 public:
  enum class State { kIdle, kConnecting, kHandshake, kReady, kClosed };

  Session(std::size_t index, SessionHost& host, SessionRole role, Endpoint home,
          RedirectPolicy redirect_policy, int max_redirects);
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects (again) to the current target: the home server, or where a
  // redirect pointed. Failure is reported through on_session_failed.
  void start();

  // Handles epoll events for the current connection.
  void handle_io(std::uint32_t events);

  // Writes pending output; called by the host for sessions marked dirty.
  void flush();

  // Ends the session without reporting anything.
  void close();

  // Sends one stamped activity of `activity_size` bytes. False, and nothing
  // sent, unless the session is ready: a message queued while it logs in
  // again after a redirect would reach the server before the LOGIN.
  bool publish(const ActivityStamp& stamp, std::size_t activity_size);

  // Sends REGISTER (activity protocol only; others fail the session).
  virtual void send_register(std::string_view username, std::string_view secret);

  std::size_t index() const { return index_; }
  std::uint32_t generation() const { return generation_; }
  std::uint64_t token() const { return (std::uint64_t{index_} << 32) | generation_; }
  State state() const { return state_; }
  SessionRole role() const { return role_; }
  const Endpoint& home() const { return home_; }
  const Endpoint& target() const { return target_; }
  int redirects() const { return redirects_; }
  // When start() was first called, for login times.
  std::int64_t first_start_ns() const { return first_start_ns_; }

 protected:
  // The TCP connection is up: send the handshake (or become ready).
  virtual void on_connected() = 0;
  // Appends one activity message to output() (the session is ready).
  virtual void append_publish(const ActivityStamp& stamp, std::size_t activity_size) = 0;
  // New input is in connection_.input(): handle every complete frame. Must
  // return at once when the session was closed or restarted by a callback
  // (check alive(generation) after each one).
  virtual void on_input() = 0;
  // A fresh connection: forget per-connection parsing state.
  virtual void on_reset() {}

  bool alive(std::uint32_t generation) const {
    return generation_ == generation && state_ != State::kClosed;
  }
  std::string& output();
  void become_ready();
  void fail(const std::string& reason);
  void redirect_to(const Endpoint& target);

  SessionHost& host_;
  Connection connection_;

 private:
  void update_interest();

  std::size_t index_;
  SessionRole role_;
  Endpoint home_;
  Endpoint target_;
  RedirectPolicy redirect_policy_;
  int max_redirects_;
  State state_ = State::kIdle;
  std::uint32_t generation_ = 0;
  std::uint32_t interest_ = 0;
  bool dirty_ = false;
  int redirects_ = 0;
  std::int64_t first_start_ns_ = 0;
};

// A printable sample of a received line for error messages (at most 200
// bytes, control bytes replaced).
std::string printable_sample(std::string_view bytes);

}  // namespace bench
