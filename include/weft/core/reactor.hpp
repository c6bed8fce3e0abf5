// The reactor: one thread running an asio::io_context that owns every socket
// and timer of a node. Coroutines never run here; completions hop back to the
// executor the awaiting coroutine came from.
//
//   weft::Reactor reactor;                // starts its thread
//   co_await weft::sleep_for(reactor, 10ms);
//   auto id = reactor.call_after(1s, [] { ... });   // on the reactor thread
//
// Timers read weft::Clock, so the same code runs on simulated time. A
// reactor built with StepByHand has no thread: its owner (the simulator)
// runs it one handler or due timer at a time with step_one().
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "weft/core/clock.hpp"

namespace weft {

// Tag: a reactor without a thread, stepped by its owner.
struct StepByHand {};

namespace detail {
// What a stepped reactor makes current around each step (its node's KJ
// event loop), since several stepped reactors share one thread.
class ReactorStepScope {
 public:
  virtual void enter() noexcept = 0;
  virtual void leave() noexcept = 0;

 protected:
  ~ReactorStepScope() = default;
};
}  // namespace detail

class Reactor {
 public:
  using TimerId = std::uint64_t;

  explicit Reactor(std::string name = "weft-reactor");
  Reactor(StepByHand, std::string name);
  // Stops the io_context (pending handlers and timers are dropped) and joins the thread.
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  asio::io_context& context() noexcept { return io_; }

  // Runs `f` on the reactor thread. Callable from any thread.
  template <typename F>
  void post(F&& f) {
    if (stepped_) idle_ = false;
    asio::post(io_, std::forward<F>(f));
  }

  // Runs `f` on the reactor thread once Clock::now() reaches `deadline`,
  // unless cancelled first. Timers due at the same time run in the order
  // they were set. Call on the reactor thread.
  TimerId call_at(Clock::time_point deadline, std::function<void()> f);
  TimerId call_after(Clock::duration delay, std::function<void()> f) {
    return call_at(Clock::now() + delay, std::move(f));
  }
  // Whether the timer was still pending. Call on the reactor thread.
  bool cancel(TimerId id) noexcept;

  bool on_reactor_thread() const noexcept {
    return stepped_ ? stepping_ : std::this_thread::get_id() == thread_.get_id();
  }

  // --- Stepped reactors (StepByHand) only.
  bool stepped() const noexcept { return stepped_; }
  // Runs one ready handler or else the earliest due timer; whether one ran.
  bool step_one();
  // Whether step_one() would run something; may be true when it would not.
  bool ready() const noexcept;
  // When the earliest timer is due, if any is set.
  std::optional<Clock::time_point> next_deadline() const noexcept;
  // Entered before each step and left after it; nullptr for none.
  void set_step_scope(detail::ReactorStepScope* scope) noexcept { step_scope_ = scope; }

  // The I/O backend Asio was compiled with ("epoll" or "io_uring"), for start-up logs.
  static const char* backend_name() noexcept;

 private:
  using TimerKey = std::pair<Clock::time_point, TimerId>;

  // Threads: arms alarm_ for the earliest timer.
  void arm_alarm();
  // Runs the earliest timer if it is due; whether one ran.
  bool fire_due_timer();

  const bool stepped_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::map<TimerKey, std::function<void()>> timers_;
  std::map<TimerId, Clock::time_point> timer_deadlines_;
  TimerId next_timer_ = 1;
  std::optional<asio::steady_timer> alarm_;  // threaded reactors only
  std::optional<Clock::time_point> alarm_at_;
  bool stepping_ = false;
  bool idle_ = false;  // the last step ran nothing, and nothing was posted since
  detail::ReactorStepScope* step_scope_ = nullptr;
  std::thread thread_;
};

namespace detail {
inline thread_local Reactor* tls_current_reactor = nullptr;
}

// The reactor of the node the calling thread belongs to, or nullptr.
inline Reactor* current_reactor() noexcept { return detail::tls_current_reactor; }

}  // namespace weft
