// Thread with an explicit stack size (see thread.h).
#include "thread.h"

#include <cstdlib>
#include <system_error>

namespace activity {
namespace {

// Sanitizers keep large frames and redzones on the stack.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t kStackFactor = 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr std::size_t kStackFactor = 8;
#else
constexpr std::size_t kStackFactor = 1;
#endif
#else
constexpr std::size_t kStackFactor = 1;
#endif

}  // namespace

Thread::~Thread() {
  if (started_) std::abort();  // an owner forgot to join: a bug
}

void Thread::start(std::size_t stack_bytes, std::function<void()> body) {
  std::lock_guard<std::mutex> lock(mutex_);
  body_ = std::move(body);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes * kStackFactor);
  const int error = pthread_create(&handle_, &attr, &Thread::trampoline, this);
  pthread_attr_destroy(&attr);
  if (error != 0) {
    throw std::system_error(error, std::generic_category(), "pthread_create");
  }
  started_ = true;
}

void Thread::join() {
  pthread_t handle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) return;
    handle = handle_;
    started_ = false;
  }
  pthread_join(handle, nullptr);
}

void* Thread::trampoline(void* self) {
  static_cast<Thread*>(self)->body_();
  return nullptr;
}

}  // namespace activity
