#include <chrono>
#include <thread>
#include <vector>

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
    auto result = co_await weft::wait(refs, 2, 5s);
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
    auto result = co_await weft::wait(refs, 2);
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
    auto result = co_await weft::wait(refs, 3, 30ms);
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
    auto all = co_await weft::wait(refs, 10, 10s);
    CHECK(Clock::now() - start < 5s);  // returned at once, not at the timeout
    CHECK(all.ready.size() == 2);
    CHECK(all.not_ready.empty());

    refs.push_back(wait_pending(node.store()));
    std::thread sealer([h = refs[2].handle()] { weft::detail::seal_with_value(*h.get(), 3); });
    auto later = co_await weft::wait(refs, 10);  // no timeout: returns once all 3 are sealed
    sealer.join();
    CHECK(later.ready.size() == 3);
    co_return 0;
  });
}

TEST_CASE("wait with a zero timeout returns at once with what is ready") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  node.run([&](weft::Runtime&) -> weft::Task<int> {
    std::vector<weft::ObjectRef<int>> refs{wait_pending(node.store()), weft::put(1)};
    auto result = co_await weft::wait(refs, 2, 0ms);
    CHECK(result.ready.size() == 1);
    CHECK(result.not_ready.size() == 1);
    co_return 0;
  });
}

TEST_CASE("wait with a timeout on a thread with no reactor throws UsageError") {
  weft::ObjectStore store(1, {.capacity = std::size_t{1} << 20, .name = "weft-test-wait"});
  std::vector<weft::ObjectRef<int>> refs{wait_pending(store)};
  CHECK_THROWS_AS(weft::sync_wait(weft::wait(refs, 1, 10ms)), weft::UsageError);
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
      auto result = co_await weft::wait(refs, 1, 300ms);
      if (Clock::now() - start >= 250ms) ++late;
      sealer.join();
      CHECK(result.ready.size() == 1);
    }
    co_return 0;
  });
  INFO("rounds run: " << rounds);
  CHECK(late == 0);
}
