// The session pool and its event loop: see session_pool.h.
#include "session_pool.h"

#include <algorithm>

#include "activity_session.h"
#include "clock.h"
#include "nats_session.h"
#include "stop_signal.h"

namespace bench {

SessionPool::SessionPool(const BenchOptions& options) : options_(options) {}

std::size_t SessionPool::add(SessionRole role, const Endpoint& server) {
  const std::size_t index = sessions_.size();
  if (options_.system == System::kNats) {
    sessions_.push_back(std::make_unique<NatsSession>(index, *this, role, server, options_.subject));
  } else {
    sessions_.push_back(std::make_unique<ActivitySession>(index, *this, role, server,
                                                          options_.redirect, options_.max_redirects));
  }
  holds_slot_.push_back(false);
  ready_ns_.push_back(-1);
  return index;
}

void SessionPool::enqueue_start(std::size_t index) {
  start_queue_.push_back(index);
  admit();
}

void SessionPool::start_now(std::size_t index) { sessions_[index]->start(); }

void SessionPool::admit() {
  if (admitting_) return;  // a start that fails at once calls back in here
  admitting_ = true;
  while (!start_queue_.empty() &&
         slots_in_use_ < static_cast<std::size_t>(options_.connect_concurrency) &&
         (scenario_ == nullptr || !scenario_->finished())) {
    const std::size_t index = start_queue_.front();
    start_queue_.pop_front();
    holds_slot_[index] = true;
    ++slots_in_use_;
    sessions_[index]->start();
  }
  admitting_ = false;
}

void SessionPool::release_slot(std::size_t index) {
  if (!holds_slot_[index]) return;
  holds_slot_[index] = false;
  --slots_in_use_;
  admit();
}

void SessionPool::run(Scenario& scenario) {
  scenario_ = &scenario;
  scenario.begin(now_ns());
  admit();
  flush_dirty();
  while (!scenario.finished()) {
    if (stop_requested()) {
      scenario.abort("interrupted by a signal");
      break;
    }
    std::int64_t wake = scenario.next_wakeup_ns();
    const std::int64_t deferred = next_deferred_ns();
    if (deferred >= 0 && (wake < 0 || deferred < wake)) wake = deferred;
    for (const epoll_event& event : loop_.wait_until(wake)) {
      const std::size_t index = static_cast<std::size_t>(event.data.u64 >> 32);
      const auto generation = static_cast<std::uint32_t>(event.data.u64);
      if (index < sessions_.size() && sessions_[index]->generation() == generation) {
        sessions_[index]->handle_io(event.events);
      }
    }
    const std::int64_t now = now_ns();
    run_deferred(now);
    scenario.on_tick(now);
    flush_dirty();
  }
  scenario_ = nullptr;
}

void SessionPool::flush_dirty() {
  // Flushing can fail a session, and the scenario may then send on others:
  // take the list first so that new entries land in a fresh one.
  while (!dirty_.empty()) {
    flushing_.swap(dirty_);
    for (Session* session : flushing_) session->flush();
    flushing_.clear();
  }
}

void SessionPool::start_later(Session& session, std::int64_t at_ns) {
  deferred_.push_back(DeferredStart{at_ns, session.index(), session.generation()});
}

std::int64_t SessionPool::next_deferred_ns() const {
  std::int64_t next = -1;
  for (const DeferredStart& d : deferred_) {
    if (next < 0 || d.at_ns < next) next = d.at_ns;
  }
  return next;
}

void SessionPool::run_deferred(std::int64_t now) {
  if (deferred_.empty()) return;
  std::vector<DeferredStart> due;
  const auto split = std::partition(deferred_.begin(), deferred_.end(),
                                    [now](const DeferredStart& d) { return d.at_ns > now; });
  due.assign(split, deferred_.end());
  deferred_.erase(split, deferred_.end());
  for (const DeferredStart& d : due) {
    Session& session = *sessions_[d.index];
    if (session.generation() == d.generation && session.state() == Session::State::kIdle) {
      session.start();
    }
  }
}

std::uint64_t SessionPool::total_redirects() const {
  std::uint64_t total = 0;
  for (const auto& session : sessions_) total += static_cast<std::uint64_t>(session->redirects());
  return total;
}

LatencyHistogram SessionPool::login_times() const {
  LatencyHistogram times;
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    if (ready_ns_[i] >= 0 && sessions_[i]->role() != SessionRole::kRegister) {
      times.record(ready_ns_[i] - sessions_[i]->first_start_ns());
    }
  }
  return times;
}

void SessionPool::on_session_ready(Session& session) {
  ready_ns_[session.index()] = now_ns();
  release_slot(session.index());
  if (scenario_ != nullptr) scenario_->on_ready(session.index());
}

void SessionPool::on_session_unready(Session& session) {
  if (scenario_ != nullptr) scenario_->on_unready(session.index());
}

void SessionPool::on_session_activity(Session& session, const ActivityStamp& stamp) {
  if (scenario_ != nullptr) scenario_->on_activity(session.index(), stamp);
}

void SessionPool::on_session_register_reply(Session& session, bool success, std::string_view info) {
  if (scenario_ != nullptr) scenario_->on_register_reply(session.index(), success, info);
}

void SessionPool::on_session_failed(Session& session, const std::string& reason) {
  release_slot(session.index());
  if (scenario_ != nullptr) scenario_->on_failure(session.index(), reason);
}

}  // namespace bench
