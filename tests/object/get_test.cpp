#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"
#include "weft/node/node.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/put_get.hpp"
#include "weft_test.hpp"

namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

weft::ObjectStore make_get_store(std::size_t capacity = std::size_t{4} << 20) {
  return weft::ObjectStore(1, {.capacity = capacity, .name = "weft-test-get"});
}

template <typename T>
weft::ObjectRef<T> get_pending(weft::ObjectStore& store) {
  return weft::ObjectRef<T>(weft::detail::make_pending_object(store));
}
}  // namespace

TEST_CASE("get on a pending ref blocks a plain thread until another thread seals it") {
  auto store = make_get_store();
  auto ref = get_pending<std::string>(store);
  std::atomic<bool> returned{false};
  std::string seen;
  std::thread reader([&] {
    seen = weft::get(ref);
    returned.store(true);
  });
  CHECK_FALSE(ref.is_ready());
  CHECK_FALSE(returned.load());  // cannot have returned: nothing is sealed yet
  weft::detail::seal_with_value(*ref.handle().get(), std::string("sealed"));
  reader.join();
  CHECK(returned.load());
  CHECK(seen == "sealed");
  CHECK(ref.is_ready());
}

TEST_CASE("many plain threads blocked in get all wake when the ref is sealed") {
  auto store = make_get_store();
  auto ref = get_pending<int>(store);
  std::atomic<int> sum{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back([&] { sum.fetch_add(weft::get(ref)); });
  weft::detail::seal_with_value(*ref.handle().get(), 5);
  for (auto& t : readers) t.join();
  CHECK(sum.load() == 20);
}

TEST_CASE("get with a timeout throws TimeoutError for a ref that is never sealed") {
  auto store = make_get_store();
  auto ref = get_pending<int>(store);
  const auto start = Clock::now();
  CHECK_THROWS_AS(weft::get(ref, 30ms), weft::TimeoutError);
  CHECK(Clock::now() - start >= 30ms);
  CHECK_THROWS_WITH(weft::get(ref, 1ms), Catch::Contains(ref.id().to_string()));
}

TEST_CASE("get with a timeout returns the value when the ref is sealed in time") {
  auto store = make_get_store();
  auto ref = get_pending<int>(store);
  std::thread sealer([&] { weft::detail::seal_with_value(*ref.handle().get(), 11); });
  CHECK(weft::get(ref, 10s) == 11);
  sealer.join();
  CHECK(weft::get(ref, 0ms) == 11);  // sealed: no waiting at all
}

TEST_CASE("get on an executor thread throws UsageError when the ref is pending") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  const int rc = node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto ref = get_pending<int>(node.store());
    int result = 1;
    try {
      (void)weft::get(ref);
    } catch (const weft::UsageError& e) {
      result = std::string(e.what()).find("weft::get") != std::string::npos ? 0 : 2;
    }
    try {
      (void)weft::get(ref, 1s);
      result = 3;
    } catch (const weft::UsageError&) {
    }
    co_return result;
  });
  CHECK(rc == 0);
}

TEST_CASE("get on an executor thread returns a sealed value") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  const int rc = node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto ref = weft::put(21);
    co_return weft::get(ref) * 2;
  });
  CHECK(rc == 42);
}

TEST_CASE("co_await on a pending ref resumes on the pool once another thread seals it") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  const int rc = node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto ref = get_pending<std::vector<int>>(node.store());
    std::thread sealer([state = ref.handle()] {
      weft::detail::seal_with_value(*state.get(), std::vector<int>{1, 2, 3});
    });
    const std::vector<int> v = co_await ref;
    const bool on_pool = weft::current_executor() == &node.executor();
    sealer.join();
    co_return v == std::vector<int>{1, 2, 3} && on_pool ? 0 : 1;
  });
  CHECK(rc == 0);
}

TEST_CASE("a ref sealed with an error rethrows it at get and at co_await") {
  auto store = make_get_store();
  auto ref = get_pending<int>(store);
  ref.handle()->seal_error(std::make_exception_ptr(std::out_of_range("no such value")));
  CHECK_THROWS_AS(weft::get(ref), std::out_of_range);
  auto read = [&]() -> weft::Task<int> { co_return co_await ref; };
  CHECK_THROWS_WITH(weft::sync_wait(read()), "no such value");
}

TEST_CASE("a value too large for the store seals its object with ObjectStoreFullError") {
  auto store = make_get_store(std::size_t{1} << 20);
  auto ref = get_pending<std::vector<char>>(store);
  weft::detail::seal_with_value(*ref.handle().get(), std::vector<char>(std::size_t{2} << 20));
  REQUIRE(ref.is_ready());
  CHECK_THROWS_AS(weft::get(ref), weft::ObjectStoreFullError);
  CHECK(store.arena_bytes_used() == 0);
}

TEST_CASE("a pending ref dropped unsealed frees its object") {
  auto store = make_get_store();
  {
    auto ref = get_pending<int>(store);
    CHECK(store.live_objects() == 1);
  }
  CHECK(store.live_objects() == 0);
}
