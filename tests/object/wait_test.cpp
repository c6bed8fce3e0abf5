#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "weft/core/blocking_event.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"
#include "weft/node/node.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/put_get.hpp"
#include "weft/object/wait.hpp"
#include "weft_test.hpp"

namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

weft::ObjectRef<int> wait_pending(weft::ObjectStore& store) {
  return weft::ObjectRef<int>(weft::detail::make_pending_object(store));
}

std::vector<weft::ObjectId> wait_ids(const std::vector<weft::ObjectRef<int>>& refs) {
  std::vector<weft::ObjectId> ids;
  for (const auto& r : refs) ids.push_back(r.id());
  return ids;
}
}  // namespace

TEST_CASE("wait returns exactly num_returns ready refs, in input order") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto& store = node.store();
    std::vector<weft::ObjectRef<int>> refs{wait_pending(store), weft::put(1), wait_pending(store),
                                           weft::put(2), weft::put(3)};
    const auto ids = wait_ids(refs);
    auto result = co_await weft::wait(refs, {.num_returns = 2, .timeout = 5s});
    CHECK(wait_ids(result.ready) == std::vector<weft::ObjectId>{ids[1], ids[3]});
    CHECK(wait_ids(result.not_ready) == std::vector<weft::ObjectId>{ids[0], ids[2], ids[4]});
    co_return 0;
  });
}

TEST_CASE("wait returns the refs sealed by another thread while it waits") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto& store = node.store();
    std::vector<weft::ObjectRef<int>> refs;
    for (int i = 0; i < 4; ++i) refs.push_back(wait_pending(store));
    const auto ids = wait_ids(refs);
    std::thread sealer([a = refs[3].handle(), b = refs[1].handle()] {
      weft::detail::seal_with_value(*a.get(), 3);
      weft::detail::seal_with_value(*b.get(), 1);
    });
    auto result = co_await weft::wait(refs, {.num_returns = 2});
    sealer.join();
    CHECK(wait_ids(result.ready) == std::vector<weft::ObjectId>{ids[1], ids[3]});
    CHECK(result.not_ready.size() == 2);
    CHECK(weft::get(result.ready[0]) == 1);
    co_return 0;
  });
}

TEST_CASE("wait returns at the timeout with fewer ready refs than asked for") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto& store = node.store();
    std::vector<weft::ObjectRef<int>> refs{wait_pending(store), weft::put(1), wait_pending(store),
                                           wait_pending(store)};
    const auto start = Clock::now();
    auto result = co_await weft::wait(refs, {.num_returns = 3, .timeout = 30ms});
    CHECK(Clock::now() - start >= 30ms);
    CHECK(result.ready.size() == 1);
    CHECK(result.not_ready.size() == 3);
    CHECK(weft::current_executor() == &node.executor());
    co_return 0;
  });
}

TEST_CASE("wait clamps num_returns to the number of refs") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    std::vector<weft::ObjectRef<int>> refs{weft::put(1), weft::put(2)};
    const auto start = Clock::now();
    auto all = co_await weft::wait(refs, {.num_returns = 10, .timeout = 10s});
    CHECK(Clock::now() - start < 5s);  // returned at once, not at the timeout
    CHECK(all.ready.size() == 2);
    CHECK(all.not_ready.empty());

    refs.push_back(wait_pending(node.store()));
    std::thread sealer([h = refs[2].handle()] { weft::detail::seal_with_value(*h.get(), 3); });
    auto later = co_await weft::wait(
        refs, {.num_returns = 10});  // no timeout: returns once all 3 are sealed
    sealer.join();
    CHECK(later.ready.size() == 3);
    co_return 0;
  });
}

TEST_CASE("wait with a zero timeout returns at once with what is ready") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    std::vector<weft::ObjectRef<int>> refs{wait_pending(node.store()), weft::put(1)};
    auto result = co_await weft::wait(refs, {.num_returns = 2, .timeout = 0ms});
    CHECK(result.ready.size() == 1);
    CHECK(result.not_ready.size() == 1);
    co_return 0;
  });
}

TEST_CASE("wait with a timeout on a thread with no reactor throws UsageError") {
  weft::ObjectStore store(1, {.capacity = std::size_t{1} << 20, .name = "weft-test-wait"});
  std::vector<weft::ObjectRef<int>> refs{wait_pending(store)};
  CHECK_THROWS_AS(weft::sync_wait(weft::wait(refs, {.timeout = 10ms})), weft::UsageError);
}

TEST_CASE("wait is not held up by a ref sealed while it registers its waiters") {
  // Races a sealer against wait: the last of many pending refs is sealed
  // while wait counts and registers them. Every round must end as soon as
  // that ref is sealed, never at the (long) timeout.
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  int late = 0;
  int rounds = 0;
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    for (; rounds < 100 && late == 0; ++rounds) {
      std::vector<weft::ObjectRef<int>> refs;
      for (int i = 0; i < 2000; ++i) refs.push_back(wait_pending(node.store()));
      std::thread sealer(
          [h = refs.back().handle()] { weft::detail::seal_with_value(*h.get(), 1); });
      const auto start = Clock::now();
      auto result = co_await weft::wait(refs, {.timeout = 300ms});
      if (Clock::now() - start >= 250ms) ++late;
      sealer.join();
      CHECK(result.ready.size() == 1);
    }
    co_return 0;
  });
  INFO("rounds run: " << rounds);
  CHECK(late == 0);
}

TEST_CASE("wait on an empty list returns at once, and by default waits for one ref") {
  weft::ObjectStore store(1, {.capacity = std::size_t{1} << 20, .name = "weft-test-wait-empty"});
  // No reactor, no timeout: an empty list must not need either.
  auto none = weft::sync_wait(weft::wait(std::vector<weft::ObjectRef<int>>{}));
  CHECK(none.ready.empty());
  CHECK(none.not_ready.empty());
  std::vector<weft::ObjectRef<int>> refs{wait_pending(store), weft::put(store, 7),
                                         weft::put(store, 8)};
  auto one = weft::sync_wait(weft::wait(refs));
  REQUIRE(one.ready.size() == 1);
  CHECK(one.ready[0].id() == refs[1].id());
  CHECK(one.not_ready.size() == 2);
}

TEST_CASE("a ref named twice in wait's or get_all's list is a UsageError that names it") {
  weft::ObjectStore store(1, {.capacity = std::size_t{1} << 20, .name = "weft-test-wait-twice"});
  auto x = weft::put(store, 1);
  std::vector<weft::ObjectRef<int>> refs{x, weft::put(store, 2), x};
  const std::string named = x.id().to_string();
  CHECK_THROWS_WITH(weft::sync_wait(weft::wait(refs, {.num_returns = 2})),
                    Catch::Contains(named) && Catch::Contains("twice"));
  CHECK_THROWS_AS(weft::sync_wait(weft::get_all(refs)), weft::UsageError);
}

TEST_CASE("get of several refs returns their values in order") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  weft::Node::ThreadScope scope(node);
  std::vector<weft::ObjectRef<int>> refs{wait_pending(node.store()), weft::put(2), weft::put(3)};
  std::thread sealer([h = refs[0].handle()] { weft::detail::seal_with_value(*h.get(), 1); });
  CHECK(weft::get(refs) == std::vector<int>{1, 2, 3});
  sealer.join();
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    // Named, not compared in the co_await expression (GCC 12, see README).
    const std::vector<int> values = co_await weft::get_all(refs);
    const std::vector<int> expected{1, 2, 3};
    CHECK(values == expected);
    // Blocking an executor thread could deadlock the node: refused if a ref is pending.
    std::vector<weft::ObjectRef<int>> pending{wait_pending(node.store())};
    CHECK_THROWS_AS(weft::get(pending), weft::UsageError);
    weft::detail::seal_with_value(*pending[0].handle().get(), 0);
    co_return 0;
  });
}

TEST_CASE("get of several refs fails at the first error without waiting for the rest") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  weft::Node::ThreadScope scope(node);
  std::vector<weft::ObjectRef<int>> refs{wait_pending(node.store()), wait_pending(node.store())};
  std::thread failer([h = refs[1].handle()] {
    h->seal_error(std::make_exception_ptr(weft::Error("task two failed: boom")));
  });
  // Sealed only after the check, or after 30 s if get waited for it (the
  // check then fails instead of the test hanging).
  weft::detail::BlockingEvent checked;
  std::thread backstop([&checked, h = refs[0].handle()] {
    checked.wait_until(weft::Clock::now() + 30s);
    weft::detail::seal_with_value(*h.get(), 1);
  });
  CHECK_THROWS_WITH(weft::get(refs), "task two failed: boom");
  CHECK_FALSE(refs[0].is_ready());
  checked.set();
  failer.join();
  backstop.join();
}
