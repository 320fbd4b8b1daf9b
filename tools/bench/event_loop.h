// The tool's only wait: epoll over every socket plus one timerfd, so the
// loop can sleep until "the next scheduled send" with nanosecond resolution
// (epoll_wait's own timeout is in milliseconds, too coarse for a publisher at
// thousands of messages per second). Sockets are level-triggered: a session
// reads once per event and the loop visits every ready socket in turn.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <vector>

namespace bench {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // False if epoll or the timer could not be created.
  bool ok() const { return epoll_fd_ >= 0 && timer_fd_ >= 0; }

  // Registers or changes a socket; `token` comes back with its events.
  // A closed socket leaves the set by itself.
  bool add(int fd, std::uint32_t events, std::uint64_t token);
  bool modify(int fd, std::uint32_t events, std::uint64_t token);

  // Waits until a socket is ready or CLOCK_MONOTONIC reaches `deadline_ns`
  // (no deadline if negative). Returns the socket events (the timer's own
  // are handled here); empty on timeout or a signal.
  const std::vector<epoll_event>& wait_until(std::int64_t deadline_ns);

 private:
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  std::int64_t armed_deadline_ = -1;
  std::vector<epoll_event> buffer_;
  std::vector<epoll_event> ready_;
};

}  // namespace bench
