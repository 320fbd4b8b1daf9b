// epoll plus a timerfd: see event_loop.h.
#include "event_loop.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "clock.h"

namespace bench {
namespace {

constexpr std::uint64_t kTimerToken = ~std::uint64_t{0};
constexpr int kMaxEventsPerWait = 1024;

}  // namespace

EventLoop::EventLoop() : buffer_(kMaxEventsPerWait) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ >= 0 && timer_fd_ >= 0) add(timer_fd_, EPOLLIN, kTimerToken);
  ready_.reserve(kMaxEventsPerWait);
}

EventLoop::~EventLoop() {
  if (timer_fd_ >= 0) ::close(timer_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool EventLoop::add(int fd, std::uint32_t events, std::uint64_t token) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = token;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, std::uint64_t token) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = token;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) == 0;
}

const std::vector<epoll_event>& EventLoop::wait_until(std::int64_t deadline_ns) {
  ready_.clear();
  int timeout_ms = -1;
  if (deadline_ns >= 0) {
    if (deadline_ns <= now_ns()) {
      timeout_ms = 0;
    } else if (deadline_ns != armed_deadline_) {
      itimerspec spec{};
      spec.it_value.tv_sec = static_cast<time_t>(deadline_ns / kNsPerSecond);
      spec.it_value.tv_nsec = static_cast<long>(deadline_ns % kNsPerSecond);
      timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
      armed_deadline_ = deadline_ns;
    }
  }
  const int n = epoll_wait(epoll_fd_, buffer_.data(), static_cast<int>(buffer_.size()), timeout_ms);
  for (int i = 0; i < n; ++i) {
    const epoll_event& event = buffer_[static_cast<std::size_t>(i)];
    if (event.data.u64 == kTimerToken) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] const ssize_t r = ::read(timer_fd_, &expirations, sizeof expirations);
      armed_deadline_ = -1;  // fired: the same deadline must be armed again
      continue;
    }
    ready_.push_back(event);
  }
  return ready_;
}

}  // namespace bench
