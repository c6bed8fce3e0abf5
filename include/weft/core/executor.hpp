// Executors: where coroutines and jobs run.
//
// An Executor accepts Jobs (a function pointer and an argument, 16 bytes, no
// allocation) from any thread and runs each exactly once. Coroutines are
// posted as Jobs that resume them. The executor that is running the current
// job is available as weft::current_executor(); awaitables use it to resume a
// coroutine where it was suspended.
//
//   co_await weft::resume_on(pool);   // continue on one of pool's threads
#pragma once

#include <coroutine>

#include "weft/config.hpp"

namespace weft {

// A unit of work. `run(arg)` must not throw.
struct Job {
  void (*run)(void*) noexcept = nullptr;
  void* arg = nullptr;

  static Job resume(std::coroutine_handle<> h) noexcept {
    return Job{[](void* a) noexcept { std::coroutine_handle<>::from_address(a).resume(); },
               h.address()};
  }
  explicit operator bool() const noexcept { return run != nullptr; }
  void operator()() const noexcept { run(arg); }
};

class Executor {
 public:
  virtual ~Executor() = default;

  // Runs `job` later on one of this executor's threads. Callable from any thread.
  virtual void post(Job job) noexcept = 0;

  void post(std::coroutine_handle<> h) noexcept { post(Job::resume(h)); }
};

namespace detail {
// Executor running the current job on this thread (nullptr on plain threads).
inline thread_local Executor* tls_current_executor = nullptr;

// Sets the thread's current executor for a scope.
class CurrentExecutorScope {
 public:
  explicit CurrentExecutorScope(Executor* e) noexcept : saved_(tls_current_executor) {
    tls_current_executor = e;
  }
  ~CurrentExecutorScope() { tls_current_executor = saved_; }
  CurrentExecutorScope(const CurrentExecutorScope&) = delete;
  CurrentExecutorScope& operator=(const CurrentExecutorScope&) = delete;

 private:
  Executor* saved_;
};
}  // namespace detail

// The executor running the calling code, or nullptr on a thread no executor owns.
inline Executor* current_executor() noexcept { return detail::tls_current_executor; }

// Resumes `h` on `e`, or inline when `e` is null (a plain thread waiting in
// sync_wait has no executor, so whoever completes its work resumes it).
inline void resume_or_post(Executor* e, std::coroutine_handle<> h) noexcept {
  if (e != nullptr) {
    e->post(h);
  } else {
    h.resume();
  }
}

// `co_await resume_on(e)` continues the coroutine on executor `e`.
class ResumeOn {
 public:
  explicit ResumeOn(Executor& e) noexcept : executor_(&e) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept { executor_->post(h); }
  void await_resume() const noexcept {}

 private:
  Executor* executor_;
};
inline ResumeOn resume_on(Executor& e) noexcept { return ResumeOn(e); }

}  // namespace weft
