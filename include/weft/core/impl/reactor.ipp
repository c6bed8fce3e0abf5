// Reactor bodies; compiled once into libweft.
#include <pthread.h>

#include <chrono>
#include <thread>

#include "weft/core/reactor.hpp"

namespace weft {

namespace {
// After handling events the reactor polls a little longer, yielding the core
// to any runnable thread, before it blocks in epoll: an executor's post (a
// task's result to send) or a peer's answer that comes within that window
// then costs no wake-up. Measured on 2 pinned cores: remote round trip
// 33-36 us -> 29-31 us, throughput unchanged within noise.
constexpr auto poll_before_blocking = std::chrono::microseconds(30);

void run_polling(asio::io_context& io) {
  using Clock = std::chrono::steady_clock;
  auto last_work = Clock::now();
  while (!io.stopped()) {
    if (io.poll() > 0) {
      last_work = Clock::now();
    } else if (Clock::now() - last_work < poll_before_blocking) {
      std::this_thread::yield();
    } else if (io.run_one() > 0) {
      last_work = Clock::now();
    }
  }
}
}  // namespace

Reactor::Reactor(std::string name)
    : stepped_(false),
      work_(asio::make_work_guard(io_)),
      alarm_(std::in_place, io_),
      thread_([this, name = std::move(name)] {
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        detail::tls_current_reactor = this;
        run_polling(io_);
      }) {}

Reactor::Reactor(StepByHand, std::string) : stepped_(true), work_(asio::make_work_guard(io_)) {}

Reactor::~Reactor() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

Reactor::TimerId Reactor::call_at(Clock::time_point deadline, std::function<void()> f) {
  const TimerId id = next_timer_++;
  timers_.emplace(TimerKey{deadline, id}, std::move(f));
  timer_deadlines_.emplace(id, deadline);
  if (!stepped_) arm_alarm();
  return id;
}

bool Reactor::cancel(TimerId id) noexcept {
  const auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return false;
  timers_.erase(TimerKey{it->second, id});
  timer_deadlines_.erase(it);
  // A threaded reactor's alarm may now ring early; it finds nothing due and re-arms.
  return true;
}

std::optional<Clock::time_point> Reactor::next_deadline() const noexcept {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

bool Reactor::fire_due_timer() {
  if (timers_.empty()) return false;
  const auto first = timers_.begin();
  if (first->first.first > Clock::now()) return false;
  auto f = std::move(first->second);
  timer_deadlines_.erase(first->first.second);
  timers_.erase(first);
  f();
  return true;
}

void Reactor::arm_alarm() {
  const auto next = next_deadline();
  if (!next || next == alarm_at_) return;
  alarm_at_ = next;
  alarm_->expires_at(*next);
  alarm_->async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // re-armed or stopped
    alarm_at_.reset();
    // Only the timers set before this ring run now, so one that sets
    // another due at once cannot keep the reactor here.
    const TimerId newest = next_timer_;
    while (!timers_.empty() && timers_.begin()->first.second < newest && fire_due_timer()) {
    }
    arm_alarm();
  });
}

bool Reactor::ready() const noexcept {
  if (!idle_) return true;
  const auto next = next_deadline();
  return next && *next <= Clock::now();
}

bool Reactor::step_one() {
  detail::ReactorStepScope* const scope = step_scope_;
  if (scope != nullptr) scope->enter();
  struct Restore {
    Reactor& r;
    detail::ReactorStepScope* scope;
    Reactor* saved_current;
    ~Restore() {
      r.stepping_ = false;
      detail::tls_current_reactor = saved_current;
      // A step that created or destroyed the scope has entered or left it itself.
      if (scope != nullptr && r.step_scope_ == scope) scope->leave();
    }
  } restore{*this, scope, std::exchange(detail::tls_current_reactor, this)};
  stepping_ = true;
  const bool ran = io_.poll_one() > 0 || fire_due_timer();
  idle_ = !ran;
  return ran;
}

const char* Reactor::backend_name() noexcept {
#if defined(ASIO_HAS_IO_URING_AS_DEFAULT)
  return "io_uring";
#elif defined(ASIO_HAS_EPOLL)
  return "epoll";
#else
  return "select";
#endif
}

}  // namespace weft
