#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/error.hpp"
#include "weft_test.hpp"

namespace {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
// GCC 12 turns symmetric transfer into a tail call only with sibling-call
// optimisation (-O2 and up) and never under a sanitizer; elsewhere every
// await of a task, even one in a loop, takes stack until the outermost
// resume returns, so debug and sanitizer builds keep chains short enough for
// an 8 MiB stack. The stack probe below checks the promise itself.
constexpr int chain_depth = 10000;
#else
constexpr int chain_depth = 100000;
#endif

weft::Task<int> answer() { co_return 42; }
weft::Task<int> twice() { co_return 2 * co_await answer(); }
weft::Task<void> fail() {
  throw std::out_of_range("nope");
  co_return;
}
weft::Task<int> fail_int() {
  throw std::invalid_argument("bad argument");
  co_return 0;
}
weft::Task<int> fail_deep(int levels) {
  if (levels == 0) co_return co_await fail_int();
  co_return co_await fail_deep(levels - 1);
}
weft::Task<int> recover() {
  try {
    co_await fail_int();
  } catch (const std::invalid_argument&) {
    co_return 7;
  }
  co_return 0;
}
weft::Task<void> set_flag(bool& flag) {
  flag = true;
  co_return;
}
weft::Task<std::unique_ptr<std::string>> make_owned() {
  co_return std::make_unique<std::string>("owned");
}
weft::Task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}
weft::Task<void> void_depth(int n, int& reached) {
  if (n == 0) co_return;
  ++reached;
  co_await void_depth(n - 1, reached);
}
// The address of the innermost frame of a chain `n` awaits deep.
weft::Task<std::uintptr_t> bottom_frame(int n) {
  if (n == 0) co_return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  co_return co_await bottom_frame(n - 1);
}
weft::Task<long> sum_of_answers(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await answer();
  co_return sum;
}
weft::Task<bool> sync_wait_on_pool_throws(weft::ThreadPool& pool, std::string& message) {
  co_await weft::resume_on(pool);
  try {
    weft::sync_wait(answer());
  } catch (const weft::UsageError& e) {
    message = e.what();
    co_return true;
  }
  co_return false;
}
}  // namespace

TEST_CASE("a task returns its value to the awaiter") { CHECK(weft::sync_wait(twice()) == 84); }

TEST_CASE("a task can return a move-only value") {
  std::unique_ptr<std::string> p = weft::sync_wait(make_owned());
  REQUIRE(p != nullptr);
  CHECK(*p == "owned");
}

TEST_CASE("a Task<void> runs its body when awaited") {
  bool ran = false;
  weft::sync_wait(set_flag(ran));
  CHECK(ran);
}

TEST_CASE("a task does not start until it is awaited") {
  bool ran = false;
  {
    weft::Task<void> t = set_flag(ran);
    CHECK(t.valid());
    CHECK_FALSE(ran);
  }
  CHECK_FALSE(ran);  // destroyed without being awaited: never ran
}

TEST_CASE("a moved-from task is empty and the moved-to task runs") {
  bool ran = false;
  weft::Task<void> a = set_flag(ran);
  weft::Task<void> b = std::move(a);
  CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(b.valid());
  weft::sync_wait(std::move(b));
  CHECK(ran);
}

TEST_CASE("an exception thrown in a task propagates to the awaiter") {
  CHECK_THROWS_AS(weft::sync_wait(fail()), std::out_of_range);
}

TEST_CASE("an exception thrown in a Task<int> propagates through every awaiting level") {
  CHECK_THROWS_WITH(weft::sync_wait(fail_deep(50)), "bad argument");
  CHECK_THROWS_AS(weft::sync_wait(fail_deep(50)), std::invalid_argument);
}

TEST_CASE("a task that catches an awaited exception carries on") {
  CHECK(weft::sync_wait(recover()) == 7);
}

TEST_CASE("a long chain of awaits completes with the right value") {
  CHECK(weft::sync_wait(depth(chain_depth)) == chain_depth);
}

TEST_CASE("a long chain of Task<void> awaits completes") {
  int reached = 0;
  weft::sync_wait(void_depth(chain_depth, reached));
  CHECK(reached == chain_depth);
}

TEST_CASE("a loop awaiting many ready tasks completes") {
  CHECK(weft::sync_wait(sum_of_answers(chain_depth)) == 42L * chain_depth);
}

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
// Sanitizers instrument every function exit, which rules out the tail calls
// symmetric transfer relies on; the promise is checked in plain builds only.
TEST_CASE("awaiting a chain of tasks ten thousand deep uses no more stack than one") {
  const auto top = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const std::uintptr_t shallow = top - weft::sync_wait(bottom_frame(1));
  const std::uintptr_t deep = top - weft::sync_wait(bottom_frame(10000));
  INFO("stack below sync_wait: " << shallow << " bytes at depth 1, " << deep
                                 << " bytes at depth 10000");
  CHECK(deep <= shallow + 1024);
}
#endif

TEST_CASE("sync_wait on an executor thread throws UsageError") {
  weft::ThreadPool pool({.threads = 1});
  std::string message;
  CHECK(weft::sync_wait(sync_wait_on_pool_throws(pool, message)));
  CHECK_THAT(message, Catch::Contains("sync_wait"));
}

TEST_CASE("sync_wait returns on the calling thread after the task finished elsewhere") {
  weft::ThreadPool pool({.threads = 1});
  const auto caller = std::this_thread::get_id();
  auto elsewhere = [&]() -> weft::Task<std::thread::id> {
    co_await weft::resume_on(pool);
    co_return std::this_thread::get_id();
  };
  const std::thread::id ran_on = weft::sync_wait(elsewhere());
  CHECK(ran_on != caller);
  CHECK(std::this_thread::get_id() == caller);
}
