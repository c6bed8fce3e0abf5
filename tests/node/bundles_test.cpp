// Placement group bundles enforced by the scheduler of the node holding them:
// on a node that runs alone (create_placement_group), and as a cluster node
// learns them from the head's view (LocalScheduler::hold_bundles, driven
// here directly). Catch2 assertions stay on the test thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "weft/weft.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;

namespace {

int bundles_one() { return 1; }

// A task that holds its thread, and so its cpu, until the gate opens (10 s at most).
std::atomic<bool> bundles_gate{false};
std::atomic<int> bundles_started{0};
std::atomic<int> bundles_inside{0};
std::atomic<int> bundles_most_inside{0};

void bundles_reset() {
  bundles_gate = false;
  bundles_started = 0;
  bundles_inside = 0;
  bundles_most_inside = 0;
}

int bundles_hold() {
  ++bundles_started;
  const int inside = ++bundles_inside;
  int most = bundles_most_inside.load();
  while (inside > most && !bundles_most_inside.compare_exchange_weak(most, inside)) {
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!bundles_gate && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  --bundles_inside;
  return 1;
}

class BundlesActor {
 public:
  int one() { return 1; }
};

// Spins (yielding) until `done()` or a generous deadline; returns done().
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return done();
}

// What `ref` threw when read, as text; "" if it holds a value.
template <typename T>
std::string infeasibility_of(const weft::ObjectRef<T>& ref) {
  try {
    weft::get(ref, 5s);
  } catch (const weft::InfeasibleError& e) {
    return e.what();
  }
  return "";
}

weft::PlacementGroup create_group(std::vector<weft::Resources> bundles) {
  return weft::sync_wait(weft::create_placement_group(std::move(bundles)));
}

weft::NodeOptions node_with_cpu(double cpu) {
  return {.threads = 3, .resources = weft::Resources{.cpu = cpu}, .store = {.capacity = 16 << 20}};
}

}  // namespace

WEFT_REMOTE(bundles_one);
WEFT_REMOTE(bundles_hold);
WEFT_ACTOR(BundlesActor, &BundlesActor::one);

TEST_CASE("a bundle holding all of a node's cpu keeps other tasks out until its group is removed") {
  weft::Node node(node_with_cpu(2));
  weft::Node::ThreadScope scope(node);
  const auto group = create_group({{.cpu = 2}});
  auto outside = weft::submit<&bundles_one>();
  const weft::TaskOptions in_bundle{.placement = group.bundle(0)};
  CHECK(weft::get(weft::submit<&bundles_one>(in_bundle), 5s) == 1);
  CHECK_THROWS_AS(weft::get(outside, 200ms), weft::TimeoutError);
  weft::sync_wait(weft::remove_placement_group(group));
  CHECK(weft::get(outside, 5s) == 1);
}

TEST_CASE("a task asking more than its bundle holds is infeasible, naming the bundle") {
  weft::Node node(node_with_cpu(3));
  weft::Node::ThreadScope scope(node);
  const auto group = create_group({{.cpu = 1}, {.cpu = 1}});
  const weft::TaskOptions too_big{.resources = {.cpu = 2}, .placement = group.bundle(1)};
  CHECK(
      infeasibility_of(weft::submit<&bundles_one>(too_big)) ==
      fmt::format("task bundles_one needs 2 cpu but bundle 1 of placement group {} has 1 in total",
                  group.id));
}

TEST_CASE("tasks placed in a busy bundle queue there while the rest of the node runs others") {
  bundles_reset();
  weft::Node node(node_with_cpu(3));
  weft::Node::ThreadScope scope(node);
  const auto group = create_group({{.cpu = 1}});
  const weft::TaskOptions in_bundle{.placement = group.bundle(0)};
  std::vector<weft::ObjectRef<int>> held;
  for (int i = 0; i < 3; ++i) held.push_back(weft::submit<&bundles_hold>(in_bundle));
  REQUIRE(eventually([] { return bundles_started == 1; }));
  CHECK(weft::get(weft::submit<&bundles_one>(), 5s) == 1);  // outside the bundle: room
  CHECK(bundles_started == 1);
  bundles_gate = true;
  for (auto& r : held) CHECK(weft::get(r, 5s) == 1);
  CHECK(bundles_most_inside == 1);
}

TEST_CASE("removing a group fails the tasks queued in it; the one running finishes") {
  bundles_reset();
  weft::Node node(node_with_cpu(2));
  weft::Node::ThreadScope scope(node);
  const auto group = create_group({{.cpu = 1}});
  const weft::TaskOptions in_bundle{.placement = group.bundle(0)};
  auto running = weft::submit<&bundles_hold>(in_bundle);
  auto queued = weft::submit<&bundles_hold>(in_bundle);
  REQUIRE(eventually([] { return bundles_started == 1; }));
  weft::sync_wait(weft::remove_placement_group(group));
  CHECK(infeasibility_of(queued).find("removed before it could run") != std::string::npos);
  CHECK(infeasibility_of(weft::submit<&bundles_one>(in_bundle)).find("was the group removed?") !=
        std::string::npos);
  bundles_gate = true;
  CHECK(weft::get(running, 5s) == 1);
  // Everything the bundle held is the node's again.
  const weft::TaskOptions all_cpu{.resources = {.cpu = 2}};
  CHECK(weft::get(weft::submit<&bundles_one>(all_cpu), 5s) == 1);
}

TEST_CASE("placement group creation on a node that runs alone reserves all bundles or none") {
  weft::Node node(node_with_cpu(2));
  weft::Node::ThreadScope scope(node);
  CHECK_THROWS_AS(create_group({{.cpu = 1}, {.cpu = 2}}), weft::InfeasibleError);
  CHECK(node.scheduler().bundles().empty());
  const auto group = create_group({{.cpu = 1}, {.cpu = 1}});
  CHECK(node.scheduler().bundles().size() == 2);
  CHECK_THROWS_AS(create_group({{.cpu = 0.5}}), weft::InfeasibleError);
  weft::sync_wait(weft::remove_placement_group(group));
  CHECK(node.scheduler().bundles().empty());
}

TEST_CASE("an actor placed in a bundle takes its resources from the bundle") {
  weft::Node node(node_with_cpu(1));
  weft::Node::ThreadScope scope(node);
  const auto group = create_group({{.cpu = 1}});
  const weft::ActorOptions in_bundle{.resources = {.cpu = 1}, .placement = group.bundle(0)};
  auto actor = weft::sync_wait(weft::spawn<BundlesActor>().options(in_bundle));
  CHECK(weft::get(actor.call<&BundlesActor::one>(), 5s) == 1);
  try {
    weft::sync_wait(weft::spawn<BundlesActor>().options(in_bundle));
    FAIL("a second actor fitted in a full bundle");
  } catch (const weft::InfeasibleError& e) {
    CHECK(std::string(e.what()).find(fmt::format("bundle 0 of placement group {}", group.id)) !=
          std::string::npos);
  }
  const weft::ActorOptions outside{.resources = {.cpu = 1}};
  CHECK_THROWS_AS(weft::sync_wait(weft::spawn<BundlesActor>().options(outside)),
                  weft::InfeasibleError);
}

TEST_CASE("a cluster node's tasks wait for a group it has not heard of, and fail once it is gone") {
  weft::Node node(node_with_cpu(2));
  weft::Node::ThreadScope scope(node);
  weft::detail::LocalScheduler& scheduler = node.scheduler();
  scheduler.hold_bundles({}, 0);  // as a cluster node starts
  const weft::TaskOptions in_group_1{.placement = {.group = 1, .index = 0, .node = node.id()}};
  auto early = weft::submit<&bundles_one>(in_group_1);
  CHECK_THROWS_AS(weft::get(early, 200ms), weft::TimeoutError);
  scheduler.hold_bundles({{.key = {1, 0}, .resources = {.cpu = 2}}}, 1);
  CHECK(weft::get(early, 5s) == 1);
  auto outside = weft::submit<&bundles_one>();
  CHECK_THROWS_AS(weft::get(outside, 200ms), weft::TimeoutError);
  scheduler.hold_bundles({}, 1);  // the head removed group 1
  CHECK(weft::get(outside, 5s) == 1);
  CHECK(scheduler.bundles().empty());
  CHECK_FALSE(infeasibility_of(weft::submit<&bundles_one>(in_group_1)).empty());
}
