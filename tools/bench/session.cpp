// Session life cycle and redirect handling: see session.h.
#include "session.h"

#include <sys/epoll.h>

#include <utility>

#include "clock.h"
#include "event_loop.h"

namespace bench {
namespace {

// With the "stay" policy a redirected client waits this long before trying
// its home server again, giving the servers time to announce new loads.
constexpr std::int64_t kStayRetryDelayNs = 200 * kNsPerMs;
constexpr std::size_t kMaxSampleBytes = 200;

}  // namespace

Session::Session(std::size_t index, SessionHost& host, SessionRole role, Endpoint home,
                 RedirectPolicy redirect_policy, int max_redirects)
    : host_(host),
      index_(index),
      role_(role),
      home_(home),
      target_(std::move(home)),
      redirect_policy_(redirect_policy),
      max_redirects_(max_redirects) {}

void Session::start() {
  connection_.close();
  ++generation_;
  on_reset();
  if (first_start_ns_ == 0) first_start_ns_ = now_ns();
  SocketAddress address;
  std::string error;
  if (!host_.resolver().resolve(target_, address, error) ||
      !connection_.connect_to(address, error)) {
    fail(target_.to_string() + ": " + error);
    return;
  }
  state_ = State::kConnecting;
  interest_ = EPOLLIN | EPOLLOUT;
  if (!host_.loop().add(connection_.fd(), interest_, token())) {
    fail(target_.to_string() + ": epoll_ctl failed");
  }
}

void Session::handle_io(std::uint32_t events) {
  const std::uint32_t generation = generation_;
  std::string error;
  if (state_ == State::kConnecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    if (!connection_.finish_connect(error)) {
      fail(target_.to_string() + ": " + error);
      return;
    }
    state_ = State::kHandshake;
    on_connected();
    if (!alive(generation)) return;
    update_interest();
    return;
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
    switch (connection_.read_once(error)) {
      case Connection::ReadResult::kData:
        on_input();
        if (!alive(generation)) return;
        break;
      case Connection::ReadResult::kWouldBlock:
        break;
      case Connection::ReadResult::kClosed:
        fail(target_.to_string() + ": connection closed by the server");
        return;
      case Connection::ReadResult::kError:
        fail(target_.to_string() + ": " + error);
        return;
    }
  }
  if ((events & EPOLLOUT) != 0) flush();
}

void Session::flush() {
  dirty_ = false;
  if (state_ != State::kHandshake && state_ != State::kReady) return;
  std::string error;
  if (!connection_.flush(error)) {
    fail(target_.to_string() + ": " + error);
    return;
  }
  update_interest();
}

void Session::close() {
  connection_.close();
  ++generation_;
  state_ = State::kClosed;
}

bool Session::publish(const ActivityStamp& stamp, std::size_t activity_size) {
  if (state_ != State::kReady) return false;
  append_publish(stamp, activity_size);
  return true;
}

void Session::send_register(std::string_view, std::string_view) {
  fail("REGISTER is not part of this protocol");
}

std::string& Session::output() {
  if (!dirty_) {
    dirty_ = true;
    host_.mark_dirty(*this);
  }
  return connection_.output();
}

void Session::become_ready() {
  state_ = State::kReady;
  host_.on_session_ready(*this);
}

void Session::fail(const std::string& reason) {
  close();
  host_.on_session_failed(*this, reason);
}

void Session::redirect_to(const Endpoint& target) {
  const bool was_ready = state_ == State::kReady;
  connection_.close();
  ++generation_;
  state_ = State::kIdle;
  if (was_ready) {
    host_.on_session_unready(*this);
    if (!alive(generation_) || state_ != State::kIdle) return;  // the host closed it
  }
  if (++redirects_ > max_redirects_) {
    fail(home_.to_string() + ": more than " + std::to_string(max_redirects_) + " redirects");
    return;
  }
  if (redirect_policy_ == RedirectPolicy::kFollow) {
    target_ = target;
    start();
  } else {
    target_ = home_;
    host_.start_later(*this, now_ns() + kStayRetryDelayNs);
  }
}

void Session::update_interest() {
  if (!connection_.is_open()) return;
  const std::uint32_t wanted =
      EPOLLIN | ((state_ == State::kConnecting || connection_.output_pending()) ? EPOLLOUT : 0u);
  if (wanted != interest_) {
    interest_ = wanted;
    host_.loop().modify(connection_.fd(), wanted, token());
  }
}

std::string printable_sample(std::string_view bytes) {
  std::string sample;
  for (const char c : bytes.substr(0, kMaxSampleBytes)) {
    const auto byte = static_cast<unsigned char>(c);
    sample += (byte < 0x20 || byte == 0x7F) ? '?' : c;
  }
  if (bytes.size() > kMaxSampleBytes) sample += "...";
  return sample;
}

}  // namespace bench
