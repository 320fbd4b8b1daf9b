// Shared bounds that many connections draw on at once: a byte budget (the
// read-buffer space of long lines, see named_limits.h) and a fixed number
// of turns (long parses). Both are process-wide per server and safe to use
// from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace activity {

// Bytes that callers take and give back; a take that would pass the limit
// is refused, never waited for.
class ByteBudget {
 public:
  explicit ByteBudget(std::size_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  bool try_take(std::size_t bytes) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ - used) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes,
                                          std::memory_order_relaxed));
    return true;
  }
  void give_back(std::size_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// A fixed number of turns, given first come, first served. acquire()
// waits for a free one; every holder does bounded work (a parse) before it
// releases, and no waiter is overtaken, so each wait is bounded by the
// work of those ahead of it.
class Turns {
 public:
  explicit Turns(std::size_t count) : free_(count) {}
  Turns(const Turns&) = delete;
  Turns& operator=(const Turns&) = delete;

  void acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t ticket = next_ticket_++;
    changed_.wait(lock, [&] { return ticket == serving_ && free_ > 0; });
    --free_;
    ++serving_;
    changed_.notify_all();  // the next in line may find a turn free too
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++free_;
    }
    changed_.notify_all();
  }

  // Holds a turn for a scope.
  class Hold {
   public:
    explicit Hold(Turns& turns) : turns_(turns) { turns_.acquire(); }
    ~Hold() { turns_.release(); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    Turns& turns_;
  };

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t free_;
  std::uint64_t next_ticket_ = 0;  // the next waiter's place in line
  std::uint64_t serving_ = 0;      // the place in line served next
};

}  // namespace activity
