#include <atomic>
#include <memory>
#include <thread>

#include "weft/core/detached.hpp"
#include "weft/core/manual_executor.hpp"
#include "weft/core/pinned_executor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft_test.hpp"

namespace {
struct ExecutorHops {
  std::thread::id caller, on_pool, on_pinned, back_on_pool;
  weft::Executor* pool_executor = nullptr;
  weft::Executor* pinned_executor = nullptr;
};

weft::Task<ExecutorHops> executor_hop(weft::ThreadPool& pool, weft::PinnedExecutor& pinned) {
  ExecutorHops h;
  h.caller = std::this_thread::get_id();
  co_await weft::resume_on(pool);
  h.on_pool = std::this_thread::get_id();
  h.pool_executor = weft::current_executor();
  co_await weft::resume_on(pinned);
  h.on_pinned = std::this_thread::get_id();
  h.pinned_executor = weft::current_executor();
  co_await weft::resume_on(pool);
  h.back_on_pool = std::this_thread::get_id();
  co_return h;
}

// Counts its destruction, to show when a coroutine frame is freed.
struct ExecutorFrameProbe {
  std::atomic<int>* destroyed;
  ~ExecutorFrameProbe() { destroyed->fetch_add(1); }
};
weft::Task<void> executor_probe(std::atomic<int>& destroyed, bool& ran) {
  ExecutorFrameProbe probe{&destroyed};
  ran = true;
  co_return;
}
}  // namespace

TEST_CASE("current_executor is null on a plain thread") {
  CHECK(weft::current_executor() == nullptr);
}

TEST_CASE("resume_on switches a coroutine to the executor's thread") {
  weft::ThreadPool pool({.threads = 2});
  weft::PinnedExecutor pinned;
  const ExecutorHops h = weft::sync_wait(executor_hop(pool, pinned));
  CHECK(h.caller == std::this_thread::get_id());
  CHECK(h.on_pool != h.caller);
  CHECK(h.pool_executor == &pool);
  CHECK(h.on_pinned == pinned.thread_id());
  CHECK(h.pinned_executor == &pinned);
  CHECK(h.back_on_pool != pinned.thread_id());
  CHECK(h.back_on_pool != h.caller);
}

TEST_CASE("spawn_detached runs a task on its executor and frees the frame at the end") {
  weft::ManualExecutor ex;
  std::atomic<int> destroyed{0};
  bool ran = false;
  weft::spawn_detached(ex, executor_probe(destroyed, ran));
  CHECK_FALSE(ran);
  CHECK(ex.run_until_idle() == 1);
  CHECK(ran);
  CHECK(destroyed.load() == 1);
}
