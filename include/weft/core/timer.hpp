// Timers driven by the node's reactor.
//
//   co_await weft::sleep_for(10ms);            // the current node's reactor
//   co_await weft::sleep_for(reactor, 10ms);   // an explicit one
//
// The coroutine suspends without holding a thread and resumes on the executor
// it was running on (inline on the reactor thread if it had none).
#pragma once

#include <chrono>
#include <coroutine>
#include <memory>

#include "weft/core/executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/error.hpp"

namespace weft {

class SleepAwaiter {
 public:
  SleepAwaiter(Reactor& reactor, std::chrono::nanoseconds duration) noexcept
      : reactor_(reactor), duration_(duration) {}

  bool await_ready() const noexcept { return duration_.count() <= 0; }
  void await_suspend(std::coroutine_handle<> h) {
    Executor* resume_on = current_executor();
    reactor_.post([&reactor = reactor_, duration = duration_, h, resume_on] {
      reactor.call_after(std::chrono::duration_cast<Clock::duration>(duration),
                         [h, resume_on] { resume_or_post(resume_on, h); });
    });
  }
  void await_resume() const noexcept {}

 private:
  Reactor& reactor_;
  std::chrono::nanoseconds duration_;
};

inline SleepAwaiter sleep_for(Reactor& reactor, std::chrono::nanoseconds duration) noexcept {
  return SleepAwaiter(reactor, duration);
}

// Uses the current node's reactor; throws weft::UsageError on a thread that has none.
inline SleepAwaiter sleep_for(std::chrono::nanoseconds duration) {
  Reactor* r = current_reactor();
  if (r == nullptr) throw UsageError("weft::sleep_for outside a node: pass a Reactor explicitly");
  return SleepAwaiter(*r, duration);
}

}  // namespace weft
