#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"
#include "weft/node/node.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/object_store.hpp"
#include "weft/object/put_get.hpp"
#include "weft_test.hpp"

namespace {
constexpr std::size_t store_mib = std::size_t{1} << 20;

weft::ObjectStore make_test_store(std::size_t capacity = 4 * store_mib) {
  return weft::ObjectStore(1, {.capacity = capacity, .name = "weft-test-store"});
}

// Bytes of a vector<uint8_t> whose payload is exactly `payload` bytes.
std::vector<std::uint8_t> store_blob(std::size_t payload) {
  return std::vector<std::uint8_t>(payload - 64, 0x5a);
}
}  // namespace

TEST_CASE("put then get returns the value") {
  auto store = make_test_store();
  auto ref = weft::put(store, std::string("stored"));
  CHECK(ref.valid());
  CHECK(ref.is_ready());
  CHECK(weft::get(ref) == "stored");
  CHECK(weft::get(ref) == "stored");  // each read decodes afresh
  auto read = [&]() -> weft::Task<std::string> { co_return co_await ref; };
  CHECK(weft::sync_wait(read()) == "stored");
}

TEST_CASE("object ids are fresh for every put and name the owning node") {
  weft::ObjectStore store(7, {.capacity = store_mib, .name = "weft-test-store"});
  auto a = weft::put(store, 1);
  auto b = weft::put(store, 2);
  CHECK(a.id().owner == 7);
  CHECK(b.id().owner == 7);
  CHECK(a.id() != b.id());
  CHECK_FALSE(a.id().to_string().empty());
}

TEST_CASE("small values stay off the arena while large ones use it") {
  auto store = make_test_store();
  auto small = weft::put(store, std::vector<int>(100, 1));
  CHECK(store.arena_bytes_used() == 0);
  CHECK_FALSE(small.handle()->in_arena());

  auto large = weft::put(store, std::vector<char>(200000, 'x'));
  CHECK(large.handle()->in_arena());
  CHECK(store.arena_bytes_used() >= 200000 + 64);
  CHECK(weft::get(large) == std::vector<char>(200000, 'x'));
}

TEST_CASE("the inline threshold decides heap or arena to the byte") {
  weft::ObjectStore store(
      1, {.capacity = store_mib, .inline_threshold = 1024, .name = "weft-test-store"});
  auto below = weft::put(store, store_blob(1023));
  CHECK_FALSE(below.handle()->in_arena());
  CHECK(store.arena_bytes_used() == 0);
  auto at = weft::put(store, store_blob(1024));
  CHECK(at.handle()->in_arena());
  CHECK(store.arena_bytes_used() == 1024);
}

TEST_CASE("an object lives until the last copy of its ref is gone") {
  auto store = make_test_store();
  {
    auto ref = weft::put(store, store_blob(100000));
    CHECK(store.live_objects() == 1);
    const std::size_t used = store.arena_bytes_used();
    CHECK(used >= 100000);
    {
      auto copy = ref;
      auto another = copy;
      ref = {};
      CHECK(store.live_objects() == 1);
      CHECK(store.arena_bytes_used() == used);
      copy = {};
      CHECK(store.live_objects() == 1);
      CHECK(weft::get(another).size() == 100000 - 64);
    }
    CHECK(store.live_objects() == 0);
    CHECK(store.arena_bytes_used() == 0);
  }
  {
    auto small = weft::put(store, 5);
    auto moved = std::move(small);
    CHECK(store.live_objects() == 1);
  }
  CHECK(store.live_objects() == 0);
}

TEST_CASE("a value larger than the store throws ObjectStoreFullError naming both sizes") {
  auto store = make_test_store(1 * store_mib);
  try {
    (void)weft::put(store, std::vector<std::uint8_t>(2 * store_mib));
    FAIL("no ObjectStoreFullError");
  } catch (const weft::ObjectStoreFullError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("2.0 MiB"));  // the value
    CHECK_THAT(what, Catch::Contains("1.0 MiB"));  // the store
  }
  CHECK(store.live_objects() == 0);
  CHECK(store.arena_bytes_used() == 0);
}

TEST_CASE("a full store refuses a put until a ref is released, then accepts it") {
  auto store = make_test_store(1 * store_mib);
  const std::size_t third = 320 * 1024;
  std::vector<weft::ObjectRef<std::vector<std::uint8_t>>> refs;
  for (int i = 0; i < 3; ++i) refs.push_back(weft::put(store, store_blob(third)));
  CHECK(store.arena_bytes_used() == 3 * third);
  CHECK_THROWS_AS(weft::put(store, store_blob(third)), weft::ObjectStoreFullError);
  CHECK_THROWS_WITH(weft::put(store, store_blob(third)), Catch::Contains("in use"));
  CHECK(store.live_objects() == 3);
  refs.erase(refs.begin() + 1);
  auto again = weft::put(store, store_blob(third));
  CHECK(store.arena_bytes_used() == 3 * third);
  CHECK(weft::get(again).size() == third - 64);
}

TEST_CASE("put without a node on this thread throws UsageError") {
  CHECK(weft::current_store() == nullptr);
  CHECK_THROWS_AS(weft::put(42), weft::UsageError);
}

TEST_CASE("put and co_await use the node's store inside node.run") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  const int rc = node.run([&](weft::Runtime&) -> weft::Task<int> {
    auto ref = weft::put(std::vector<double>(50000, 1.5));
    const std::vector<double> back = co_await ref;
    co_return back.size() == 50000 && back[49999] == 1.5 && node.store().live_objects() == 1 &&
            node.store().arena_bytes_used() > 0
        ? 0
        : 1;
  });
  CHECK(rc == 0);
  CHECK(node.store().live_objects() == 0);
  CHECK(node.store().arena_bytes_used() == 0);
}

TEST_CASE("a plain thread in a Node::ThreadScope can put and get") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  {
    weft::Node::ThreadScope scope(node);
    CHECK(weft::current_store() == &node.store());
    auto ref = weft::put(std::string("scoped"));
    CHECK(weft::get(ref) == "scoped");
  }
  CHECK(weft::current_store() == nullptr);
  CHECK(node.store().live_objects() == 0);
}

TEST_CASE("reading a ref as another type throws TypeMismatchError naming both types") {
  auto store = make_test_store();
  auto ref = weft::put(store, 42);
  weft::ObjectRef<double> wrong(ref.handle());
  CHECK_THROWS_AS(weft::get(wrong), weft::TypeMismatchError);
  CHECK_THROWS_WITH(weft::get(wrong), Catch::Contains("`int`") && Catch::Contains("`double`") &&
                                          Catch::Contains(ref.id().to_string()));
}

TEST_CASE("refs nested in a stored value keep their objects alive") {
  weft::Node node({.threads = 2, .store = {.capacity = 64 << 20}});
  weft::Node::ThreadScope scope(node);
  auto& store = node.store();
  weft::ObjectRef<std::vector<weft::ObjectRef<int>>> outer;
  {
    std::vector<weft::ObjectRef<int>> inner{weft::put(1), weft::put(2)};
    outer = weft::put(inner);
  }
  CHECK(store.live_objects() == 3);
  const auto inner = weft::get(outer);
  REQUIRE(inner.size() == 2);
  CHECK(weft::get(inner[0]) == 1);
  CHECK(weft::get(inner[1]) == 2);
  outer = {};
  CHECK(store.live_objects() == 2);  // the decoded refs still hold the inner objects
}

TEST_CASE("concurrent puts and releases from several threads leave the store empty") {
  auto store = make_test_store(16 * store_mib);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      std::vector<weft::ObjectRef<std::vector<std::uint8_t>>> held;
      for (int i = 0; i < 300; ++i) {
        const std::size_t size = (i % 3 == 0) ? 100000 : 200 + std::size_t(i);
        held.push_back(weft::put(store, store_blob(size)));
        if (held.size() > 4) held.erase(held.begin());
        if (i % 50 == t) (void)weft::get(held.back());
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(store.live_objects() == 0);
  CHECK(store.arena_bytes_used() == 0);
}
