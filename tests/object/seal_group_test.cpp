#include <atomic>
#include <cstddef>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

#include "weft/object/object_store.hpp"
#include "weft/object/put_get.hpp"
#include "weft/object/seal_group.hpp"
#include "weft_test.hpp"

namespace {
using weft::detail::ObjectHandle;
using weft::detail::SealGroup;

weft::ObjectStore make_seal_store() {
  return weft::ObjectStore(1, {.capacity = std::size_t{16} << 20, .name = "weft-test-seal-group"});
}

std::vector<ObjectHandle> seal_pending(weft::ObjectStore& store, std::size_t n) {
  std::vector<ObjectHandle> objects;
  for (std::size_t i = 0; i < n; ++i) objects.push_back(weft::detail::make_pending_object(store));
  return objects;
}

void seal_one(const ObjectHandle& object) { weft::detail::seal_with_value(*object.get(), 7); }

// Counts its completions and checks none comes while the test still
// registers. complete() keeps the reference it is handed: the test lets go.
class CountingGroup final : public SealGroup {
 public:
  CountingGroup(std::atomic<int>& completions, const std::atomic<bool>& registering)
      : completions_(completions), registering_(registering) {}

  std::atomic<int> early{0};

 private:
  void complete() noexcept override {
    if (registering_.load()) early.fetch_add(1);
    // Once the count shows, the test may free the group: read nothing of it after.
    std::atomic<int>& completions = completions_;
    completions.fetch_add(1);
    completions.notify_all();
  }

  std::atomic<int>& completions_;
  const std::atomic<bool>& registering_;
};

// A CountingGroup watching `objects`, `needed` of them; whether it completed
// while registering (finish_arming's answer).
struct Armed {
  CountingGroup* group;
  bool complete;
};

Armed seal_arm(const std::vector<ObjectHandle>& objects, std::size_t needed,
               std::atomic<int>& completions, std::atomic<bool>& registering) {
  registering.store(true);
  auto* g = SealGroup::make<CountingGroup>(objects.size(), needed, completions, registering);
  for (const auto& o : objects) g->watch(o.get());
  registering.store(false);
  return {g, g->finish_arming()};
}
}  // namespace

TEST_CASE("when_sealed runs done at once when every object is sealed already") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 3);
  for (const auto& o : objects) seal_one(o);
  int ran = 0;
  weft::detail::when_sealed(objects, [&] { ++ran; });
  CHECK(ran == 1);
}

TEST_CASE("when_sealed runs done on the thread that seals the last object") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 3);
  int ran = 0;
  std::thread::id ran_on;
  weft::detail::when_sealed(objects, [&] {
    ++ran;
    ran_on = std::this_thread::get_id();
  });
  seal_one(objects[2]);
  seal_one(objects[0]);
  CHECK(ran == 0);
  std::thread::id sealer_id;
  std::thread sealer([&] {
    sealer_id = std::this_thread::get_id();
    seal_one(objects[1]);
  });
  sealer.join();
  CHECK(ran == 1);
  CHECK(ran_on == sealer_id);
}

TEST_CASE("when_sealed keeps the objects it waits for alive until done runs") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 2);
  weft::detail::ObjectState* a = objects[0].get();
  weft::detail::ObjectState* b = objects[1].get();
  int ran = 0;
  weft::detail::when_sealed(std::move(objects), [&] { ++ran; });
  CHECK(store.live_objects() == 2);
  weft::detail::seal_with_value(*a, 1);
  weft::detail::seal_with_value(*b, 2);
  CHECK(ran == 1);
  CHECK(store.live_objects() == 0);
}

TEST_CASE("an object sealed with an error counts as sealed") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 2);
  int ran = 0;
  weft::detail::when_sealed(objects, [&] { ++ran; });
  objects[0]->seal_error(std::make_exception_ptr(std::runtime_error("lost")));
  CHECK(ran == 0);
  objects[1]->seal_error(std::make_exception_ptr(std::runtime_error("lost too")));
  CHECK(ran == 1);
}

TEST_CASE("a group needing k of n completes at the k-th seal, once, and cancel lets the rest go") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 5);
  std::atomic<int> completions{0};
  std::atomic<bool> registering{false};
  auto [g, complete] = seal_arm(objects, 2, completions, registering);
  CHECK_FALSE(complete);
  seal_one(objects[3]);
  CHECK(completions == 0);
  seal_one(objects[0]);
  CHECK(completions == 1);
  seal_one(objects[4]);
  CHECK(completions == 1);
  g->cancel();
  seal_one(objects[1]);  // their waiters are gone: nothing touches the freed group
  seal_one(objects[2]);
  CHECK(completions == 1);
}

TEST_CASE("a group whose objects are all sealed reports it from finish_arming, not complete") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 3);
  for (const auto& o : objects) seal_one(o);
  std::atomic<int> completions{0};
  std::atomic<bool> registering{false};
  auto [g, complete] = seal_arm(objects, 3, completions, registering);
  CHECK(complete);
  CHECK(completions == 0);
  g->release();
}

TEST_CASE("room a group leaves unwatched counts as objects found sealed") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 1);
  std::atomic<int> completions{0};
  const std::atomic<bool> registering{false};
  auto* g = SealGroup::make<CountingGroup>(3, 3, completions, registering);
  g->watch(objects[0].get());
  CHECK_FALSE(g->finish_arming());
  seal_one(objects[0]);
  CHECK(completions == 1);
  g->release();
}

TEST_CASE("complete_now completes a group early, once, and later seals change nothing") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 2);
  std::atomic<int> completions{0};
  std::atomic<bool> registering{false};
  auto [g, complete] = seal_arm(objects, 2, completions, registering);
  CHECK_FALSE(complete);
  g->add_ref();  // as a timer holds it
  g->complete_now();
  g->complete_now();
  g->release();
  CHECK(completions == 1);
  seal_one(objects[1]);
  CHECK(completions == 1);
  g->cancel();
  seal_one(objects[0]);
  CHECK(completions == 1);
}

TEST_CASE("complete_now during registration makes finish_arming report the group complete") {
  auto store = make_seal_store();
  auto objects = seal_pending(store, 2);
  std::atomic<int> completions{0};
  const std::atomic<bool> registering{true};
  auto* g = SealGroup::make<CountingGroup>(2, 2, completions, registering);
  g->watch(objects[0].get());
  g->complete_now();
  g->watch(objects[1].get());
  CHECK(g->finish_arming());
  CHECK(completions == 0);
  g->cancel();
  for (const auto& o : objects) seal_one(o);
  CHECK(completions == 0);
}

TEST_CASE("seals on several threads, some during registration, complete a group exactly once") {
  constexpr int kThreads = 4;
  constexpr std::size_t kPerThread = 64;
  auto store = make_seal_store();
  int inline_completions = 0;
  for (int round = 0; round < 200; ++round) {
    auto objects = seal_pending(store, kThreads * kPerThread);
    std::atomic<int> completions{0};
    std::atomic<bool> registering{false};
    std::latch start(kThreads + 1);
    std::vector<std::thread> sealers;
    for (int t = 0; t < kThreads; ++t) {
      sealers.emplace_back([&, t] {
        start.arrive_and_wait();
        for (std::size_t i = 0; i < kPerThread; ++i) seal_one(objects[i * kThreads + t]);
      });
    }
    start.arrive_and_wait();
    auto [g, complete] = seal_arm(objects, objects.size(), completions, registering);
    if (complete) {
      ++inline_completions;
    } else {
      completions.wait(0);
    }
    for (auto& s : sealers) s.join();
    CHECK(completions == (complete ? 0 : 1));
    CHECK(g->early == 0);
    g->release();
  }
  INFO("rounds completed while registering: " << inline_completions);
}

TEST_CASE("a k-of-n group cancelled while other threads still seal lets go safely") {
  constexpr int kThreads = 4;
  constexpr std::size_t kPerThread = 16;
  auto store = make_seal_store();
  for (int round = 0; round < 200; ++round) {
    auto objects = seal_pending(store, kThreads * kPerThread);
    std::atomic<int> completions{0};
    std::atomic<bool> registering{false};
    auto [g, complete] = seal_arm(objects, 1, completions, registering);
    CHECK_FALSE(complete);
    std::vector<std::thread> sealers;
    for (int t = 0; t < kThreads; ++t) {
      sealers.emplace_back([&, t] {
        for (std::size_t i = 0; i < kPerThread; ++i) seal_one(objects[i * kThreads + t]);
      });
    }
    completions.wait(0);
    g->cancel();  // races the notifications still under way
    for (auto& s : sealers) s.join();
    CHECK(completions == 1);
  }
}

TEST_CASE("complete_now racing the last seal completes a group exactly once") {
  auto store = make_seal_store();
  for (int round = 0; round < 500; ++round) {
    auto objects = seal_pending(store, 1);
    std::atomic<int> completions{0};
    std::atomic<bool> registering{false};
    auto [g, complete] = seal_arm(objects, 1, completions, registering);
    CHECK_FALSE(complete);
    g->add_ref();  // the timer's
    std::latch start(2);
    std::thread sealer([&] {
      start.arrive_and_wait();
      seal_one(objects[0]);
    });
    std::thread timer([&, g = g] {
      start.arrive_and_wait();
      g->complete_now();
      g->release();
    });
    sealer.join();
    timer.join();
    CHECK(completions == 1);
    g->cancel();
  }
}
