#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "weft/core/blocking_event.hpp"
#include "weft/core/executor.hpp"
#include "weft/core/serial_executor.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft_test.hpp"

namespace {
using namespace std::chrono_literals;

struct SerialState {
  explicit SerialState(int posters) : order(static_cast<std::size_t>(posters)) {}
  std::atomic<bool> busy{false};
  std::atomic<int> overlaps{0};
  std::atomic<int> wrong_executor{0};
  std::atomic<int> done{0};
  int expected = 0;
  int plain_counter = 0;                // unsynchronised on purpose: serial jobs need no lock
  std::vector<std::vector<int>> order;  // per poster, the indices in run order
  weft::Executor* strand = nullptr;
  weft::detail::BlockingEvent all_done;
};
struct SerialSlot {
  SerialState* state;
  int poster;
  int index;
};
void serial_job(void* arg) noexcept {
  auto& slot = *static_cast<SerialSlot*>(arg);
  auto& s = *slot.state;
  if (s.busy.exchange(true, std::memory_order_acquire)) s.overlaps.fetch_add(1);
  if (weft::current_executor() != s.strand) s.wrong_executor.fetch_add(1);
  for (int i = 0; i < 20; ++i) weft::detail::cpu_relax();  // widen any overlap window
  ++s.plain_counter;
  s.order[static_cast<std::size_t>(slot.poster)].push_back(slot.index);
  s.busy.store(false, std::memory_order_release);
  if (s.done.fetch_add(1) + 1 == s.expected) s.all_done.set();
}

bool serial_wait_idle(weft::SerialExecutor& strand) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!strand.idle()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Posts `per_poster` jobs from each of `posters` threads to a strand over a
// 2-thread pool with a small batch, so drains hop between workers.
void serial_run(SerialState& state, int posters, int per_poster) {
  weft::ThreadPool pool({.threads = 2});
  weft::SerialExecutor strand(pool, 4);
  state.strand = &strand;
  state.expected = posters * per_poster;
  std::vector<SerialSlot> slots;
  for (int p = 0; p < posters; ++p) {
    for (int i = 0; i < per_poster; ++i) slots.push_back({&state, p, i});
  }
  std::vector<std::thread> threads;
  for (int p = 0; p < posters; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_poster; ++i) {
        strand.post(weft::Job{&serial_job, &slots[static_cast<std::size_t>(p * per_poster + i)]});
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(state.all_done.wait_until(std::chrono::steady_clock::now() + 10s));
  REQUIRE(serial_wait_idle(strand));  // destroying a busy strand would be a use-after-free
}
}  // namespace

TEST_CASE("a serial executor never runs two of its jobs at once") {
  SerialState state(2);
  serial_run(state, 2, 5000);
  CHECK(state.overlaps.load() == 0);
  CHECK(state.plain_counter == 10000);
  CHECK(state.wrong_executor.load() == 0);
}

TEST_CASE("a serial executor runs each poster's jobs in post order") {
  SerialState state(3);
  serial_run(state, 3, 3000);
  for (const auto& seen : state.order) {
    REQUIRE(seen.size() == 3000);
    bool in_order = true;
    for (std::size_t i = 0; i < seen.size(); ++i) in_order = in_order && seen[i] == int(i);
    CHECK(in_order);
  }
}

TEST_CASE("a serial executor is idle before its first job and after its last") {
  weft::ThreadPool pool({.threads = 2});
  weft::SerialExecutor strand(pool);
  CHECK(strand.idle());
  CHECK(&strand.underlying() == &pool);
  SerialState state(1);
  state.strand = &strand;
  state.expected = 1;
  SerialSlot slot{&state, 0, 0};
  strand.post(weft::Job{&serial_job, &slot});
  REQUIRE(state.all_done.wait_until(std::chrono::steady_clock::now() + 10s));
  CHECK(serial_wait_idle(strand));
  CHECK(state.wrong_executor.load() == 0);
}
