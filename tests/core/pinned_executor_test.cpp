#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "weft/core/blocking_event.hpp"
#include "weft/core/pinned_executor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft_test.hpp"

namespace {
using namespace std::chrono_literals;

struct PinnedState {
  std::thread::id expected_thread;
  std::atomic<int> wrong_thread{0};
  std::atomic<int> done{0};
  int expected = 0;
  std::vector<int> order;  // touched only on the pinned thread
  weft::detail::BlockingEvent all_done;
};
struct PinnedSlot {
  PinnedState* state;
  int index;
};
void pinned_job(void* arg) noexcept {
  auto& slot = *static_cast<PinnedSlot*>(arg);
  auto& s = *slot.state;
  if (std::this_thread::get_id() != s.expected_thread) s.wrong_thread.fetch_add(1);
  s.order.push_back(slot.index);
  if (s.done.fetch_add(1) + 1 == s.expected) s.all_done.set();
}
std::vector<PinnedSlot> pinned_slots(PinnedState& state, int n) {
  std::vector<PinnedSlot> slots;
  for (int i = 0; i < n; ++i) slots.push_back({&state, i});
  state.expected = n;
  return slots;
}
}  // namespace

TEST_CASE("a pinned executor runs every job on its one thread") {
  std::thread::id start_thread;
  weft::PinnedExecutor pinned("pinned-test", [&] { start_thread = std::this_thread::get_id(); });
  PinnedState state;
  state.expected_thread = pinned.thread_id();
  auto slots = pinned_slots(state, 4000);
  std::vector<std::thread> posters;
  for (int p = 0; p < 2; ++p) {
    posters.emplace_back([&, p] {
      for (int i = p; i < 4000; i += 2) pinned.post(weft::Job{&pinned_job, &slots[std::size_t(i)]});
    });
  }
  for (auto& t : posters) t.join();
  REQUIRE(state.all_done.wait_until(std::chrono::steady_clock::now() + 10s));
  CHECK(state.wrong_thread.load() == 0);
  CHECK(state.expected_thread != std::this_thread::get_id());
  CHECK(start_thread == pinned.thread_id());  // ordered before the jobs by the thread itself
}

TEST_CASE("a pinned executor runs jobs in post order") {
  weft::PinnedExecutor pinned;
  PinnedState state;
  state.expected_thread = pinned.thread_id();
  auto slots = pinned_slots(state, 2000);
  for (auto& s : slots) pinned.post(weft::Job{&pinned_job, &s});
  REQUIRE(state.all_done.wait_until(std::chrono::steady_clock::now() + 10s));
  bool in_order = state.order.size() == 2000;
  for (std::size_t i = 0; in_order && i < state.order.size(); ++i)
    in_order = state.order[i] == int(i);
  CHECK(in_order);
}

TEST_CASE("destroying a pinned executor first runs the jobs already posted") {
  PinnedState state;
  auto slots = pinned_slots(state, 5000);
  {
    weft::PinnedExecutor pinned;
    state.expected_thread = pinned.thread_id();
    for (auto& s : slots) pinned.post(weft::Job{&pinned_job, &s});
  }
  CHECK(state.done.load() == 5000);
  CHECK(state.wrong_thread.load() == 0);
}

TEST_CASE("a coroutine resumed on a pinned executor runs on its thread") {
  weft::PinnedExecutor pinned;
  auto hop = [&]() -> weft::Task<bool> {
    co_await weft::resume_on(pinned);
    co_return std::this_thread::get_id() == pinned.thread_id() &&
        weft::current_executor() == &pinned;
  };
  CHECK(weft::sync_wait(hop()));
}
