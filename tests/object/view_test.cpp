#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/object_store.hpp"
#include "weft/object/put_get.hpp"
#include "weft_test.hpp"

namespace {
weft::ObjectStore make_view_store() {
  return weft::ObjectStore(1, {.capacity = std::size_t{8} << 20, .name = "weft-test-view"});
}

std::vector<float> view_values(std::size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.5f);
  return v;
}

template <typename E>
weft::Task<weft::ObjectView<E>> view_of(const weft::ObjectRef<std::vector<E>>& ref) {
  co_return co_await ref.view();
}
}  // namespace

TEST_CASE("view of a vector<float> points into the arena without copying") {
  auto store = make_view_store();
  const auto values = view_values(100000);
  auto ref = weft::put(store, values);
  REQUIRE(ref.handle()->in_arena());
  const auto view = weft::sync_wait(view_of(ref));
  REQUIRE(view.size() == values.size());
  CHECK(reinterpret_cast<std::uintptr_t>(view.data()) % 64 == 0);
  // The view reads the stored payload itself, just past its 64-byte header.
  const auto payload = ref.handle()->payload();
  CHECK(reinterpret_cast<const std::byte*>(view.data()) == payload.data() + 64);
  CHECK(reinterpret_cast<const std::byte*>(view.data() + view.size()) ==
        payload.data() + payload.size());
  bool equal = true;
  for (std::size_t i = 0; i < values.size(); ++i) equal = equal && view[i] == values[i];
  CHECK(equal);
}

TEST_CASE("a view keeps its object alive after the ref is dropped") {
  auto store = make_view_store();
  auto ref = weft::put(store, view_values(50000));
  {
    auto view = weft::sync_wait(view_of(ref));
    const std::size_t used = store.arena_bytes_used();
    ref = {};
    CHECK(store.live_objects() == 1);
    CHECK(store.arena_bytes_used() == used);
    CHECK(view[0] == 0.5f);
    CHECK(view[49999] == 49999.5f);
    CHECK(view.span().size() == 50000);
  }
  CHECK(store.live_objects() == 0);
  CHECK(store.arena_bytes_used() == 0);
}

TEST_CASE("a view of a small vector on the heap is aligned too") {
  auto store = make_view_store();
  auto ref = weft::put(store, std::vector<double>{1.0, 2.0, 3.0});
  CHECK_FALSE(ref.handle()->in_arena());
  const auto view = weft::sync_wait(view_of(ref));
  CHECK(reinterpret_cast<std::uintptr_t>(view.data()) % 64 == 0);
  CHECK(std::vector<double>(view.begin(), view.end()) == std::vector<double>{1.0, 2.0, 3.0});
}

TEST_CASE("a view waits for a pending object and sees its value") {
  auto store = make_view_store();
  weft::ObjectRef<std::vector<std::int32_t>> ref(weft::detail::make_pending_object(store));
  std::thread sealer([&] {
    weft::detail::seal_with_value(*ref.handle().get(), std::vector<std::int32_t>(40000, 7));
  });
  const auto view = weft::sync_wait(view_of(ref));
  sealer.join();
  REQUIRE(view.size() == 40000);
  CHECK(view[39999] == 7);
}

TEST_CASE("a view of a failed object rethrows its error") {
  auto store = make_view_store();
  weft::ObjectRef<std::vector<float>> ref(weft::detail::make_pending_object(store));
  ref.handle()->seal_error(std::make_exception_ptr(std::runtime_error("producer failed")));
  CHECK_THROWS_WITH(weft::sync_wait(view_of(ref)), "producer failed");
}
