#include <atomic>
#include <chrono>
#include <coroutine>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "weft/core/detached.hpp"
#include "weft/core/manual_executor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/core/when_any.hpp"
#include "weft_test.hpp"

namespace {
// Hops `hops` times through `ex`, logs, then returns 10 * hops or throws.
weft::Task<int> any_hop(weft::ManualExecutor& ex, std::vector<std::string>& log, std::string name,
                        int hops, bool fail = false) {
  for (int i = 0; i < hops; ++i) co_await weft::resume_on(ex);
  log.push_back(name + " done");
  if (fail) throw std::runtime_error(name);
  co_return 10 * hops;
}

weft::Task<void> any_hop_void(weft::ManualExecutor& ex, int hops) {
  for (int i = 0; i < hops; ++i) co_await weft::resume_on(ex);
}

weft::Task<void> any_race(weft::ManualExecutor& ex, std::vector<std::string>& log) {
  std::vector<weft::Task<int>> tasks;
  tasks.push_back(any_hop(ex, log, "t0", 3));
  tasks.push_back(any_hop(ex, log, "t1", 1));
  tasks.push_back(any_hop(ex, log, "t2", 2));
  auto r = co_await weft::when_any(std::move(tasks));
  log.push_back("winner " + std::to_string(r.index) + " = " + std::to_string(r.value));
}

weft::Task<void> any_race_failing(weft::ManualExecutor& ex, std::vector<std::string>& log) {
  std::vector<weft::Task<int>> tasks;
  tasks.push_back(any_hop(ex, log, "slow", 2));
  tasks.push_back(any_hop(ex, log, "broken", 1, true));
  try {
    co_await weft::when_any(std::move(tasks));
    log.push_back("no error");
  } catch (const std::runtime_error& e) {
    log.push_back(std::string("caught ") + e.what());
  }
}

// Holds coroutines until open() posts them all to an executor.
class AnyGate {
 public:
  explicit AnyGate(weft::Executor& ex) : ex_(ex) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    std::lock_guard lock(mutex_);
    if (open_) return false;
    waiting_.push_back(h);
    return true;
  }
  void await_resume() const noexcept {}
  void open() {
    std::vector<std::coroutine_handle<>> ready;
    {
      std::lock_guard lock(mutex_);
      open_ = true;
      ready.swap(waiting_);
    }
    for (auto h : ready) ex_.post(h);
  }

 private:
  weft::Executor& ex_;
  std::mutex mutex_;
  bool open_ = false;
  std::vector<std::coroutine_handle<>> waiting_;
};

struct AnyLoserState {
  std::atomic<int> finished{0};
};

weft::Task<std::string> any_gated(AnyGate& gate, std::shared_ptr<AnyLoserState> state, int i) {
  auto payload = std::make_unique<std::string>(1000, static_cast<char>('a' + i));
  co_await gate;
  state->finished.fetch_add(1);
  if (i == 3) throw std::runtime_error("a loser failing after the race is decided");
  co_return *payload;
}
weft::Task<std::string> any_instant() { co_return "instant"; }
}  // namespace

TEST_CASE("when_any returns the index and value of the first task to finish") {
  weft::ManualExecutor ex;
  std::vector<std::string> log;
  weft::spawn_detached(ex, any_race(ex, log));
  ex.run_until_idle();
  // The caller resumes as soon as t1 wins; t2 and t0 still run to the end.
  CHECK(log == std::vector<std::string>{"t1 done", "winner 1 = 10", "t2 done", "t0 done"});
  CHECK(ex.pending() == 0);
}

TEST_CASE("when_any rethrows the exception of a first finisher that threw") {
  weft::ManualExecutor ex;
  std::vector<std::string> log;
  weft::spawn_detached(ex, any_race_failing(ex, log));
  ex.run_until_idle();
  CHECK(log == std::vector<std::string>{"broken done", "caught broken", "slow done"});
}

TEST_CASE("when_any of Task<void> reports the index of the first to finish") {
  weft::ManualExecutor ex;
  std::size_t winner = 99;
  auto race = [&]() -> weft::Task<void> {
    std::vector<weft::Task<void>> tasks;
    tasks.push_back(any_hop_void(ex, 4));
    tasks.push_back(any_hop_void(ex, 3));
    tasks.push_back(any_hop_void(ex, 2));
    auto r = co_await weft::when_any(std::move(tasks));
    winner = r.index;
  };
  weft::spawn_detached(ex, race());
  ex.run_until_idle();
  CHECK(winner == 2);
}

TEST_CASE("the losers of when_any finish safely after the caller has moved on") {
  weft::ThreadPool pool({.threads = 2});
  AnyGate gate(pool);
  auto state = std::make_shared<AnyLoserState>();
  {
    std::vector<weft::Task<std::string>> tasks;
    tasks.push_back(any_gated(gate, state, 0));
    tasks.push_back(any_gated(gate, state, 1));
    tasks.push_back(any_instant());
    tasks.push_back(any_gated(gate, state, 3));
    auto r = weft::sync_wait(weft::when_any(std::move(tasks)));
    CHECK(r.index == 2);
    CHECK(r.value == "instant");
  }
  CHECK(state->finished.load() == 0);  // the losers are still parked at the gate
  gate.open();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (state->finished.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(state->finished.load() == 3);
  // Only this test holds the state once every loser's frame is gone.
  while (state.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(state.use_count() == 1);
}
