#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "weft/core/blocking_event.hpp"
#include "weft/core/executor.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft_test.hpp"

namespace {
using namespace std::chrono_literals;

struct PoolCountState {
  explicit PoolCountState(int n) : runs(static_cast<std::size_t>(n)), expected(n) {}
  std::vector<std::atomic<int>> runs;
  std::atomic<int> total{0};
  std::atomic<int> wrong_executor{0};
  int expected;
  weft::Executor* pool = nullptr;
  weft::detail::BlockingEvent all_done;
};
struct PoolCountSlot {
  PoolCountState* state;
  std::size_t index;
};
void pool_count_job(void* arg) noexcept {
  auto& slot = *static_cast<PoolCountSlot*>(arg);
  auto& s = *slot.state;
  s.runs[slot.index].fetch_add(1, std::memory_order_relaxed);
  if (weft::current_executor() != s.pool) s.wrong_executor.fetch_add(1);
  if (s.total.fetch_add(1, std::memory_order_acq_rel) + 1 == s.expected) s.all_done.set();
}

constexpr int steal_jobs = 256;
struct PoolStealState {
  weft::ThreadPool* pool = nullptr;
  std::thread::id poster;
  std::atomic<bool> stolen{false};
  std::atomic<int> done{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;
  weft::detail::BlockingEvent all_done;
};
void pool_steal_child(void* arg) noexcept {
  auto& s = *static_cast<PoolStealState*>(arg);
  {
    std::lock_guard lock(s.mutex);
    s.threads.insert(std::this_thread::get_id());
  }
  if (std::this_thread::get_id() != s.poster) s.stolen.store(true);
  if (s.done.fetch_add(1) + 1 == steal_jobs) s.all_done.set();
}
// Posts every child from a worker (into that worker's own queue), then keeps
// the worker busy, so the children can only start elsewhere by being stolen.
void pool_steal_parent(void* arg) noexcept {
  auto& s = *static_cast<PoolStealState*>(arg);
  s.poster = std::this_thread::get_id();
  {
    std::lock_guard lock(s.mutex);
    s.threads.insert(s.poster);
  }
  for (int i = 0; i < steal_jobs; ++i) s.pool->post(weft::Job{&pool_steal_child, arg});
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!s.stolen.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
}

struct PoolOrderState {
  std::vector<int> order;  // touched by the single worker only
  weft::ThreadPool* pool = nullptr;
  weft::detail::BlockingEvent done;
};
struct PoolOrderSlot {
  PoolOrderState* state;
  int id;
};
void pool_order_child(void* arg) noexcept {
  auto& slot = *static_cast<PoolOrderSlot*>(arg);
  slot.state->order.push_back(slot.id);
  if (slot.state->order.size() == 3) slot.state->done.set();
}
}  // namespace

TEST_CASE("a thread pool runs every job posted from several threads exactly once") {
  constexpr int posters = 4;
  constexpr int per_poster = 10000;
  weft::ThreadPool pool({.threads = 2});
  PoolCountState state(posters * per_poster);
  state.pool = &pool;
  std::vector<PoolCountSlot> slots;
  for (std::size_t i = 0; i < posters * per_poster; ++i) slots.push_back({&state, i});

  std::vector<std::thread> threads;
  for (int p = 0; p < posters; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_poster; ++i) {
        pool.post(weft::Job{&pool_count_job, &slots[static_cast<std::size_t>(p * per_poster + i)]});
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(state.all_done.wait_until(std::chrono::steady_clock::now() + 10s));
  CHECK(state.total.load() == posters * per_poster);
  int wrong = 0;
  for (auto& r : state.runs) wrong += r.load() != 1 ? 1 : 0;
  CHECK(wrong == 0);
  CHECK(state.wrong_executor.load() == 0);
}

TEST_CASE("an idle worker steals jobs queued on a busy worker") {
  weft::ThreadPool pool({.threads = 2});
  PoolStealState state;
  state.pool = &pool;
  pool.post(weft::Job{&pool_steal_parent, &state});
  REQUIRE(state.all_done.wait_until(std::chrono::steady_clock::now() + 10s));
  CHECK(state.stolen.load());
  std::lock_guard lock(state.mutex);
  CHECK(state.threads.size() == 2);  // both workers took part
}

TEST_CASE("a job posted from a worker runs next on that worker, ahead of older queued jobs") {
  weft::ThreadPool pool({.threads = 1});
  PoolOrderState state;
  state.pool = &pool;
  PoolOrderSlot a{&state, 1}, b{&state, 2}, c{&state, 3};
  struct Poster {
    weft::ThreadPool* pool;
    PoolOrderSlot* slots[3];
  } poster{&pool, {&a, &b, &c}};
  pool.post(weft::Job{[](void* p) noexcept {
                        auto& self = *static_cast<Poster*>(p);
                        for (auto* s : self.slots) self.pool->post(weft::Job{&pool_order_child, s});
                      },
                      &poster});
  REQUIRE(state.done.wait_until(std::chrono::steady_clock::now() + 10s));
  // The newest job takes the LIFO slot; the ones it displaced follow in FIFO order.
  CHECK(state.order == std::vector<int>{3, 1, 2});
}

TEST_CASE("a thread pool knows its own worker threads") {
  weft::ThreadPool pool({.threads = 2});
  CHECK(pool.size() == 2);
  CHECK_FALSE(pool.on_worker_thread());
  std::atomic<int> on_worker{-1};
  weft::detail::BlockingEvent done;
  struct Probe {
    weft::ThreadPool* pool;
    std::atomic<int>* on_worker;
    weft::detail::BlockingEvent* done;
  } probe{&pool, &on_worker, &done};
  pool.post(weft::Job{[](void* p) noexcept {
                        auto& self = *static_cast<Probe*>(p);
                        self.on_worker->store(self.pool->on_worker_thread() ? 1 : 0);
                        self.done->set();
                      },
                      &probe});
  REQUIRE(done.wait_until(std::chrono::steady_clock::now() + 10s));
  CHECK(on_worker.load() == 1);
}

TEST_CASE("a thread pool runs on_thread_start once on every worker") {
  std::atomic<unsigned> started_mask{0};
  {
    weft::ThreadPool pool({.threads = 2, .on_thread_start = [&](unsigned index) {
                             started_mask.fetch_or(1u << index);
                           }});
  }  // joining the workers orders their start-up before this point
  CHECK(started_mask.load() == 0b11u);
}
