#include <stdexcept>

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/core/when_all.hpp"
#include "weft_test.hpp"

namespace {
weft::Task<int> answer() { co_return 42; }
weft::Task<int> twice() { co_return 2 * co_await answer(); }
weft::Task<void> fail() {
  throw std::out_of_range("nope");
  co_return;
}
}  // namespace

TEST_CASE("a task returns its value to the awaiter") { CHECK(weft::sync_wait(twice()) == 84); }

TEST_CASE("an exception thrown in a task propagates to the awaiter") {
  CHECK_THROWS_AS(weft::sync_wait(fail()), std::out_of_range);
}

TEST_CASE("a long chain of awaits uses no stack") {
  struct Chain {
    static weft::Task<int> depth(int n) {
      if (n == 0) co_return 0;
      co_return 1 + co_await depth(n - 1);
    }
  };
  CHECK(weft::sync_wait(Chain::depth(100000)) == 100000);
}

TEST_CASE("when_all runs tasks on a pool and gathers results") {
  weft::ThreadPool pool({.threads = 2});
  auto on_pool = [&](int i) -> weft::Task<int> {
    co_await weft::resume_on(pool);
    co_return i * i;
  };
  std::vector<weft::Task<int>> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(on_pool(i));
  auto squares = weft::sync_wait(weft::when_all(std::move(tasks)));
  REQUIRE(squares.size() == 100);
  CHECK(squares[99] == 99 * 99);
}
