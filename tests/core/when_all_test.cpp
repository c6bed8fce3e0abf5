#include <atomic>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "weft/core/detached.hpp"
#include "weft/core/manual_executor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/core/when_all.hpp"
#include "weft_test.hpp"

namespace {
weft::Task<int> all_value(int v) { co_return v; }
weft::Task<std::string> all_text(std::string s) { co_return s; }
weft::Task<void> all_mark(bool& flag) {
  flag = true;
  co_return;
}

// Hops `hops` times through `ex`, logs, then returns or throws.
weft::Task<int> all_hop(weft::ManualExecutor& ex, std::vector<std::string>& log, std::string name,
                        int hops, bool fail) {
  for (int i = 0; i < hops; ++i) co_await weft::resume_on(ex);
  log.push_back(name + (fail ? " threw" : " done"));
  if (fail) throw std::runtime_error(name);
  co_return hops;
}

weft::Task<void> all_gather_failures(weft::ManualExecutor& ex, std::vector<std::string>& log) {
  std::vector<weft::Task<int>> tasks;
  tasks.push_back(all_hop(ex, log, "a", 3, false));
  tasks.push_back(all_hop(ex, log, "b", 1, true));
  tasks.push_back(all_hop(ex, log, "c", 2, true));
  tasks.push_back(all_hop(ex, log, "d", 0, false));
  try {
    co_await weft::when_all(std::move(tasks));
    log.push_back("no error");
  } catch (const std::runtime_error& e) {
    log.push_back(std::string("caught ") + e.what());
  }
}

weft::Task<int> all_on_pool(weft::ThreadPool& pool, std::atomic<int>& finished, int i) {
  co_await weft::resume_on(pool);
  if (i == 0) throw std::logic_error("first");
  for (int k = 0; k < 3; ++k) co_await weft::resume_on(pool);
  finished.fetch_add(1);
  co_return i;
}
}  // namespace

TEST_CASE("when_all of a tuple returns results in argument order with void as std::monostate") {
  bool ran = false;
  auto result = weft::sync_wait(weft::when_all(all_value(1), all_mark(ran), all_text("two")));
  static_assert(std::is_same_v<decltype(result), std::tuple<int, std::monostate, std::string>>);
  CHECK(std::get<0>(result) == 1);
  CHECK(std::get<2>(result) == "two");
  CHECK(ran);
}

TEST_CASE("when_all of a tuple accepts awaitables that are not tasks") {
  weft::ThreadPool pool({.threads = 1});
  auto result = weft::sync_wait(weft::when_all(all_value(5), weft::resume_on(pool)));
  static_assert(std::is_same_v<decltype(result), std::tuple<int, std::monostate>>);
  CHECK(std::get<0>(result) == 5);
}

TEST_CASE("when_all of a vector runs tasks on a pool and gathers results in order") {
  weft::ThreadPool pool({.threads = 2});
  auto on_pool = [&](int i) -> weft::Task<int> {
    co_await weft::resume_on(pool);
    co_return i* i;
  };
  std::vector<weft::Task<int>> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(on_pool(i));
  auto squares = weft::sync_wait(weft::when_all(std::move(tasks)));
  REQUIRE(squares.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(squares[static_cast<std::size_t>(i)] == i * i);
}

TEST_CASE("when_all of a vector of Task<void> waits for every task") {
  weft::ThreadPool pool({.threads = 2});
  std::atomic<int> done{0};
  auto on_pool = [&]() -> weft::Task<void> {
    co_await weft::resume_on(pool);
    done.fetch_add(1);
  };
  std::vector<weft::Task<void>> tasks;
  for (int i = 0; i < 64; ++i) tasks.push_back(on_pool());
  weft::sync_wait(weft::when_all(std::move(tasks)));
  CHECK(done.load() == 64);
}

TEST_CASE("when_all of an empty vector completes at once with no results") {
  auto results = weft::sync_wait(weft::when_all(std::vector<weft::Task<int>>{}));
  CHECK(results.empty());
}

TEST_CASE("when_all rethrows the first exception only after every task has finished") {
  weft::ManualExecutor ex;
  std::vector<std::string> log;
  weft::spawn_detached(ex, all_gather_failures(ex, log));
  ex.run_until_idle();
  // d finishes while starting; b throws before c; a finishes last; only then
  // does the caller resume, with b's exception.
  CHECK(log == std::vector<std::string>{"d done", "b threw", "c threw", "a done", "caught b"});
}

TEST_CASE("when_all on a pool lets every task finish before rethrowing a failure") {
  weft::ThreadPool pool({.threads = 2});
  std::atomic<int> finished{0};
  std::vector<weft::Task<int>> tasks;
  for (int i = 0; i < 50; ++i) tasks.push_back(all_on_pool(pool, finished, i));
  CHECK_THROWS_WITH(weft::sync_wait(weft::when_all(std::move(tasks))), "first");
  CHECK(finished.load() == 49);
}
