#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "weft/core/detached.hpp"
#include "weft/core/manual_executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/core/timer.hpp"
#include "weft/core/when_all.hpp"
#include "weft/error.hpp"
#include "weft_test.hpp"

namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct TimerReport {
  Clock::duration elapsed{};
  weft::Executor* executor_after = nullptr;
  bool on_worker_after = false;
};

weft::Task<TimerReport> timer_sleep_on_pool(weft::ThreadPool& pool, weft::Reactor& reactor,
                                            std::chrono::milliseconds d) {
  co_await weft::resume_on(pool);
  TimerReport r;
  const auto start = Clock::now();
  co_await weft::sleep_for(reactor, d);
  r.elapsed = Clock::now() - start;
  r.executor_after = weft::current_executor();
  r.on_worker_after = pool.on_worker_thread();
  co_return r;
}
}  // namespace

TEST_CASE("sleep_for resumes on the pool it came from after at least the duration") {
  weft::ThreadPool pool({.threads = 2});
  weft::Reactor reactor;
  const TimerReport r = weft::sync_wait(timer_sleep_on_pool(pool, reactor, 20ms));
  CHECK(r.elapsed >= 20ms);
  CHECK(r.executor_after == &pool);
  CHECK(r.on_worker_after);
}

TEST_CASE("concurrent sleeps each last at least their own duration") {
  weft::ThreadPool pool({.threads = 2});
  weft::Reactor reactor;
  std::vector<weft::Task<TimerReport>> sleeps;
  for (int i = 0; i < 16; ++i) {
    sleeps.push_back(timer_sleep_on_pool(pool, reactor, std::chrono::milliseconds(2 * (i % 8))));
  }
  const auto reports = weft::sync_wait(weft::when_all(std::move(sleeps)));
  REQUIRE(reports.size() == 16);
  for (std::size_t i = 0; i < reports.size(); ++i) {
    INFO("sleep " << i);
    CHECK(reports[i].elapsed >= std::chrono::milliseconds(2 * (i % 8)));
    CHECK(reports[i].executor_after == &pool);
  }
}

TEST_CASE("sleep_for on a thread with no executor resumes on the reactor thread") {
  weft::Reactor reactor;
  auto sleeper = [&]() -> weft::Task<bool> {
    const auto start = Clock::now();
    co_await weft::sleep_for(reactor, 5ms);
    co_return Clock::now() - start >= 5ms && reactor.on_reactor_thread();
  };
  CHECK(weft::sync_wait(sleeper()));
}

TEST_CASE("sleep_for with a duration of zero or less does not suspend") {
  weft::Reactor reactor;
  const auto caller = std::this_thread::get_id();
  auto sleeper = [&]() -> weft::Task<bool> {
    co_await weft::sleep_for(reactor, 0ms);
    co_await weft::sleep_for(reactor, -5ms);
    co_return std::this_thread::get_id() == caller;
  };
  CHECK(weft::sync_wait(sleeper()));
}

TEST_CASE("sleep_for on a manual executor resumes only when the executor is stepped") {
  weft::ManualExecutor ex;
  weft::Reactor reactor;
  std::atomic<bool> woke{false};
  Clock::duration elapsed{};
  auto sleeper = [&]() -> weft::Task<void> {
    const auto start = Clock::now();
    co_await weft::sleep_for(reactor, 10ms);
    elapsed = Clock::now() - start;
    woke.store(true);
  };
  weft::spawn_detached(ex, sleeper());
  REQUIRE(ex.run_one());  // starts the coroutine, which suspends on the timer
  CHECK(ex.pending() == 0);
  const auto deadline = Clock::now() + 5s;
  while (ex.pending() == 0 && Clock::now() < deadline) std::this_thread::yield();
  REQUIRE(ex.pending() == 1);  // the timer fired and posted the resumption here
  CHECK_FALSE(woke.load());
  REQUIRE(ex.run_one());
  CHECK(woke.load());
  CHECK(elapsed >= 10ms);
}

TEST_CASE("sleep_for without a reactor outside a node throws UsageError") {
  CHECK(weft::current_reactor() == nullptr);
  CHECK_THROWS_AS(weft::sleep_for(1ms), weft::UsageError);
}

TEST_CASE("a reactor names the I/O backend it was built with") {
  const std::string backend = weft::Reactor::backend_name();
  CHECK((backend == "epoll" || backend == "io_uring" || backend == "select"));
}
