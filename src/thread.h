// A joinable thread with a chosen stack size. std::thread cannot set one,
// and a server with thousands of connection threads must not reserve the
// 8 MiB default for each.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <functional>
#include <mutex>

namespace activity {

class Thread {
 public:
  Thread() = default;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  ~Thread();  // the thread must have been joined

  // Starts `body` on a new thread. Throws std::system_error on failure.
  void start(std::size_t stack_bytes, std::function<void()> body);
  void join();

 private:
  static void* trampoline(void* self);

  // Guards handle_ and started_: the new thread can finish, and another
  // thread call join(), before start() has returned.
  std::mutex mutex_;
  pthread_t handle_{};
  bool started_ = false;
  std::function<void()> body_;
};

}  // namespace activity
