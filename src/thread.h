// A joinable thread with a chosen stack size. std::thread cannot set one,
// and a server with thousands of connection threads must not reserve the
// 8 MiB default for each.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <functional>

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
  bool joinable() const { return started_; }

 private:
  static void* trampoline(void* self);

  pthread_t handle_{};
  bool started_ = false;
  std::function<void()> body_;
};

}  // namespace activity
