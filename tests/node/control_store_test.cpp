// The head's control store: node table, failure detection, actor and job
// tables, key-value store and snapshots. Time is driven explicitly.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/control_store.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;

namespace {

using Clock = weft::detail::ControlStore::Clock;
const Clock::time_point t0{};

weft::NodeInfo node_info(double cpu, std::uint16_t port = 7000) {
  return {.host = "127.0.0.1", .port = port, .totals = {.cpu = cpu}, .store_capacity = 1 << 20};
}

// A file under the temp directory, removed (with its .tmp) at scope exit.
struct TempPath {
  TempPath() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           fmt::format("weft_control_store_{}_{}.snap", ::getpid(), counter++);
  }
  ~TempPath() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path.string() + ".tmp", ec);
  }
  std::filesystem::path path;
};

template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  FAIL("the expected exception was not thrown");
  return {};
}

weft::ActorEntry actor(std::string name, weft::NodeId node, int max_restarts = 0) {
  return {
      .name = std::move(name), .class_name = "Counter", .node = node, .max_restarts = max_restarts};
}

}  // namespace

TEST_CASE("registration assigns increasing ids from 1 and bumps the view version") {
  weft::detail::ControlStore cs;
  const auto v0 = cs.view().version;
  CHECK(cs.register_node(node_info(4, 7000), t0) == 1);
  const auto v1 = cs.view().version;
  CHECK(cs.register_node(node_info(4, 7001), t0) == 2);
  const auto view = cs.view();
  CHECK(v1 > v0);
  CHECK(view.version > v1);
  REQUIRE(view.nodes.size() == 2);
  CHECK(view.nodes[0].info.id == 1);
  CHECK(view.nodes[1].info.id == 2);
  CHECK(view.nodes[1].info.port == 7001);
  CHECK(view.nodes[0].alive);
  CHECK(view.nodes[0].load.available.cpu == 4);
}

TEST_CASE("a node that misses heartbeats is marked dead after the timeout and not before") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(2), t0);
  const auto b = cs.register_node(node_info(2), t0);
  CHECK(cs.heartbeat(b, {.available = {.cpu = 2}}, t0 + 2s));

  CHECK(cs.detect_failures(t0 + 3s, 3s).empty());
  CHECK(cs.node(a)->alive);
  const auto before = cs.view().version;

  CHECK(cs.detect_failures(t0 + 3s + 1ms, 3s) == std::vector<weft::NodeId>{a});
  CHECK_FALSE(cs.node(a)->alive);
  CHECK(cs.node(b)->alive);
  CHECK(cs.view().version > before);

  CHECK(cs.detect_failures(t0 + 5s + 1ms, 3s) == std::vector<weft::NodeId>{b});
  CHECK(cs.detect_failures(t0 + 60s, 3s).empty());
}

TEST_CASE("heartbeats keep a node alive past the timeout") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(2), t0);
  for (int i = 1; i <= 10; ++i) {
    CHECK(cs.heartbeat(a, {.available = {.cpu = 2}}, t0 + i * 1s));
    CHECK(cs.detect_failures(t0 + i * 1s + 500ms, 1s).empty());
  }
  CHECK(cs.node(a)->alive);
}

TEST_CASE("a node declared dead is fenced: its heartbeats and registration are refused") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(2), t0);
  const auto b = cs.register_node(node_info(2), t0);
  CHECK_FALSE(cs.fenced(a));
  CHECK(cs.mark_node_dead(a));
  CHECK(cs.fenced(a));
  CHECK_FALSE(cs.heartbeat(a, {.available = {.cpu = 1}}, t0 + 1s));
  CHECK_FALSE(cs.node(a)->alive);
  CHECK_FALSE(cs.heartbeat(99, {}, t0 + 1s));
  CHECK_FALSE(cs.fenced(99));

  auto info = node_info(2);
  info.id = a;
  std::string refusal;
  try {
    cs.register_node(info, t0 + 2s);
  } catch (const weft::NodeFencedError& e) {
    refusal = e.what();
  }
  CHECK(refusal.find("declared dead") != std::string::npos);
  CHECK(refusal.find("new node") != std::string::npos);
  CHECK_FALSE(cs.node(a)->alive);

  // Missing heartbeats fence as well; the same process rejoins with a new id.
  CHECK(cs.detect_failures(t0 + 5s, 1s) == std::vector<weft::NodeId>{b});
  CHECK(cs.fenced(b));
  info.id = 0x77;
  CHECK(cs.register_node(info, t0 + 6s) == 0x77);
  CHECK(cs.heartbeat(0x77, {.available = {.cpu = 1}}, t0 + 6s));
  CHECK(cs.node(0x77)->alive);
}

TEST_CASE("only a heartbeat that changes the load bumps the view version") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(4), t0);
  const weft::NodeLoad busy{.available = {.cpu = 1}, .tasks_in_flight = 3};
  const auto v0 = cs.view().version;
  cs.heartbeat(a, busy, t0 + 1s);
  const auto v1 = cs.view().version;
  cs.heartbeat(a, busy, t0 + 2s);
  CHECK(v1 > v0);
  CHECK(cs.view().version == v1);
  CHECK(cs.node(a)->load.tasks_in_flight == 3);
  CHECK(cs.node(a)->load.available.cpu == 1);
  CHECK(cs.node(a)->last_heartbeat == t0 + 2s);
}

TEST_CASE("a closed connection marks a node dead once and bumps the version") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(2), t0);
  const auto v0 = cs.view().version;
  CHECK(cs.mark_node_dead(a));
  const auto v1 = cs.view().version;
  CHECK(v1 > v0);
  CHECK_FALSE(cs.mark_node_dead(a));
  CHECK_FALSE(cs.mark_node_dead(42));
  CHECK(cs.view().version == v1);
  REQUIRE(cs.view().nodes.size() == 1);
  CHECK_FALSE(cs.view().nodes[0].alive);
}

TEST_CASE("a node that leaves is listed as left with nothing in use, its jobs finished") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(4), t0);
  CHECK(cs.heartbeat(a, {.available = {.cpu = 1}, .tasks_in_flight = 3}, t0 + 1s));
  const auto job = cs.start_job(a, 1000);
  const auto before = cs.view().version;

  CHECK(cs.mark_node_left(a));
  CHECK_FALSE(cs.mark_node_left(a));
  const auto seen = cs.node(a);
  REQUIRE(seen);
  CHECK_FALSE(seen->alive);
  CHECK(seen->left);
  CHECK(seen->load.available.cpu == 4);
  CHECK(seen->load.tasks_in_flight == 0);
  CHECK(cs.view().version > before);
  CHECK(cs.jobs().at(0).job_id == job);
  CHECK(cs.jobs().at(0).finished);
  // Leaving is no failure, and a dead node is not one that left.
  CHECK(cs.detect_failures(t0 + 60s, 1s).empty());
  const auto b = cs.register_node(node_info(2), t0);
  CHECK(cs.mark_node_dead(b));
  CHECK_FALSE(cs.node(b)->left);
}

TEST_CASE("an actor name is unique among live actors") {
  weft::detail::ControlStore cs;
  const auto first = cs.register_actor(actor("counter", 1));
  const auto msg = message_of<weft::UsageError>([&] { cs.register_actor(actor("counter", 2)); });
  CHECK_THAT(msg, Catch::Contains("'counter' already exists"));
  CHECK_THAT(msg, Catch::Contains(std::to_string(first)));
  CHECK(cs.actors().size() == 1);
  CHECK(cs.register_actor(actor("", 1)) != cs.register_actor(actor("", 1)));
}

TEST_CASE("a dead actor's name can be taken by a new actor") {
  weft::detail::ControlStore cs;
  const auto first = cs.register_actor(actor("counter", 1));
  CHECK(cs.mark_actor_dead(first));
  CHECK_FALSE(cs.lookup_actor("counter"));
  const auto second = cs.register_actor(actor("counter", 2));
  CHECK(second != first);
  CHECK(cs.lookup_actor("counter")->actor_id == second);
  CHECK(cs.actor_by_id(first)->state == weft::ActorState::dead);
}

TEST_CASE("lookup_actor finds a live named actor and actor_by_id finds any actor") {
  weft::detail::ControlStore cs;
  const auto id = cs.register_actor(actor("trainer", 3));
  const auto found = cs.lookup_actor("trainer");
  REQUIRE(found);
  CHECK(found->actor_id == id);
  CHECK(found->node == 3);
  CHECK(found->class_name == "Counter");
  CHECK_FALSE(cs.lookup_actor("nobody"));
  CHECK_FALSE(cs.lookup_actor(""));
  CHECK(cs.actor_by_id(id)->name == "trainer");
  CHECK_FALSE(cs.actor_by_id(id + 100));
}

TEST_CASE("actors_on_node lists a dead node's live actors and which of them may restart") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(2), t0);
  const auto b = cs.register_node(node_info(2), t0);
  const auto stays = cs.register_actor(actor("once", a, 0));
  const auto restarts = cs.register_actor(actor("twice", a, 1));
  const auto forever = cs.register_actor(actor("", a, -1));
  const auto gone = cs.register_actor(actor("", a, 5));
  cs.mark_actor_dead(gone);
  cs.register_actor(actor("elsewhere", b, 3));

  CHECK(cs.detect_failures(t0 + 10s, 1s).size() == 2);
  const auto on_a = cs.actors_on_node(a);
  REQUIRE(on_a.size() == 3);
  CHECK(on_a[0].actor_id == stays);
  CHECK_FALSE(on_a[0].can_restart());
  CHECK(on_a[1].actor_id == restarts);
  CHECK(on_a[1].can_restart());
  CHECK(on_a[2].actor_id == forever);
  CHECK(on_a[2].can_restart());
}

TEST_CASE("update_actor records a restart on another node") {
  weft::detail::ControlStore cs;
  const auto id = cs.register_actor(actor("svc", 1, 2));
  auto e = *cs.actor_by_id(id);
  e.node = 2;
  e.restarts = 1;
  e.state = weft::ActorState::restarting;
  CHECK(cs.update_actor(e));
  CHECK(cs.lookup_actor("svc")->state == weft::ActorState::restarting);
  CHECK(cs.actors_on_node(1).empty());
  REQUIRE(cs.actors_on_node(2).size() == 1);
  CHECK(cs.actors_on_node(2)[0].restarts == 1);
  e.actor_id = 999;
  CHECK_FALSE(cs.update_actor(e));
}

TEST_CASE("jobs get increasing ids and can be finished") {
  weft::detail::ControlStore cs;
  const auto j1 = cs.start_job(1, 1000);
  const auto j2 = cs.start_job(2, 2000);
  CHECK(j1 == 1);
  CHECK(j2 == 2);
  CHECK(cs.finish_job(j1));
  CHECK_FALSE(cs.finish_job(77));
  CHECK(cs.job(j1)->finished);
  CHECK_FALSE(cs.job(j2)->finished);
  CHECK(cs.job(j2)->driver_node == 2);
  CHECK(cs.job(j2)->started_ms == 2000);
  CHECK(cs.jobs().size() == 2);
}

TEST_CASE("a driver's running job is finished when its node is declared dead") {
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(4), t0);
  const auto b = cs.register_node(node_info(4), t0);
  const auto c = cs.register_node(node_info(4), t0);
  const auto on_a = cs.start_job(a, 1);
  const auto on_b = cs.start_job(b, 2);
  const auto on_c = cs.start_job(c, 3);
  cs.heartbeat(c, {.available = {.cpu = 4}}, t0 + 2s);

  CHECK(cs.mark_node_dead(a));
  CHECK(cs.job(on_a)->finished);
  CHECK_FALSE(cs.job(on_b)->finished);

  CHECK(cs.detect_failures(t0 + 2s, 1s) == std::vector<weft::NodeId>{b});
  CHECK(cs.job(on_b)->finished);
  CHECK_FALSE(cs.job(on_c)->finished);
}

TEST_CASE("changes() counts what a snapshot records and ignores heartbeats") {
  weft::detail::ControlStore cs;
  auto last = cs.changes();
  auto changed = [&] {
    const bool grew = cs.changes() > last;
    last = cs.changes();
    return grew;
  };
  const auto a = cs.register_node(node_info(4), t0);
  CHECK(changed());
  cs.heartbeat(a, {.available = {.cpu = 2}}, t0 + 1s);
  CHECK_FALSE(changed());
  cs.kv_put("k", "v");
  CHECK(changed());
  CHECK(cs.kv_erase("k"));
  CHECK(changed());
  CHECK_FALSE(cs.kv_erase("k"));
  CHECK_FALSE(changed());
  const auto job = cs.start_job(a, 5);
  CHECK(changed());
  cs.finish_job(job);
  CHECK(changed());
  cs.register_actor(actor("svc", a));
  CHECK(changed());
  CHECK(cs.mark_node_dead(a));
  CHECK(changed());
}

TEST_CASE("the key-value store puts, gets, overwrites, erases and lists keys by prefix") {
  weft::detail::ControlStore cs;
  cs.kv_put("tune/trial/1", "a");
  cs.kv_put("tune/trial/2", std::string("b\0c", 3));
  cs.kv_put("tune/best", "1");
  cs.kv_put("other", "x");
  cs.kv_put("tune/best", "2");
  CHECK(cs.kv_get("tune/best") == "2");
  CHECK(cs.kv_get("tune/trial/2")->size() == 3);
  CHECK_FALSE(cs.kv_get("missing"));
  CHECK(cs.kv_keys("tune/") ==
        std::vector<std::string>{"tune/best", "tune/trial/1", "tune/trial/2"});
  CHECK(cs.kv_keys().size() == 4);
  CHECK(cs.kv_erase("other"));
  CHECK_FALSE(cs.kv_erase("other"));
  CHECK(cs.kv_keys("o").empty());
}

TEST_CASE("a snapshot round trip restores actors, jobs, key-value pairs and placement groups") {
  TempPath file;
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(4), t0);
  const auto b = cs.register_node(node_info(4), t0);
  const auto actor_id = cs.register_actor(actor("svc", b, 2));
  const auto job = cs.start_job(a, 123);
  cs.kv_put("k", std::string("v\0w", 3));
  const auto pg =
      cs.create_placement_group(weft::PlacementStrategy::strict_spread, {{.cpu = 1}, {.cpu = 3}});
  cs.save_snapshot(file.path);

  weft::detail::ControlStore restored;
  REQUIRE(restored.load_snapshot(file.path));
  CHECK(restored.lookup_actor("svc")->actor_id == actor_id);
  CHECK(restored.actor_by_id(actor_id)->max_restarts == 2);
  CHECK(restored.job(job)->started_ms == 123);
  CHECK(restored.kv_get("k") == std::string("v\0w", 3));
  const auto group = restored.placement_group(pg.id);
  REQUIRE(group);
  CHECK(group->strategy == weft::PlacementStrategy::strict_spread);
  CHECK(group->bundle_nodes == pg.bundle_nodes);
  CHECK(group->bundles[1].cpu == 3);
  CHECK(restored.view().version > cs.view().version);
  // New ids continue after the saved ones.
  CHECK(restored.start_job(a, 0) == job + 1);
  CHECK(restored.register_actor(actor("", a)) > actor_id);
}

TEST_CASE("nodes restored from a snapshot are dead until they register again") {
  TempPath file;
  weft::detail::ControlStore cs;
  const auto a = cs.register_node(node_info(4), t0);
  const auto b = cs.register_node(node_info(4), t0);
  cs.create_placement_group(weft::PlacementStrategy::strict_pack, {{.cpu = 3}});
  cs.save_snapshot(file.path);

  weft::detail::ControlStore restored;
  REQUIRE(restored.load_snapshot(file.path));
  const auto view = restored.view();
  REQUIRE(view.nodes.size() == 2);
  CHECK_FALSE(view.nodes[0].alive);
  CHECK_FALSE(view.nodes[1].alive);
  CHECK_FALSE(restored.heartbeat(a, {.available = {.cpu = 4}}, t0 + 1s));
  CHECK_THROWS_AS(restored.create_placement_group(weft::PlacementStrategy::pack, {{.cpu = 1}}),
                  weft::InfeasibleError);

  auto info = node_info(4);
  info.id = a;
  CHECK(restored.register_node(info, t0 + 2s) == a);
  CHECK(restored.node(a)->alive);
  CHECK_FALSE(restored.node(b)->alive);
  // The restored bundle still holds its cpus on node a.
  CHECK(restored.node(a)->load.available.cpu == 1);
  CHECK(restored.register_node(node_info(4), t0 + 2s) == 3);
}

TEST_CASE("loading a missing snapshot returns false and keeps the state") {
  TempPath file;
  weft::detail::ControlStore cs;
  cs.kv_put("k", "v");
  CHECK_FALSE(cs.load_snapshot(file.path));
  CHECK(cs.kv_get("k") == "v");
}

TEST_CASE("loading a corrupt snapshot throws DecodeError and keeps the state") {
  TempPath file;
  weft::detail::ControlStore saved;
  saved.kv_put("key", "value");
  saved.save_snapshot(file.path);
  std::filesystem::resize_file(file.path, std::filesystem::file_size(file.path) - 3);

  weft::detail::ControlStore cs;
  cs.kv_put("k", "v");
  CHECK_THROWS_AS(cs.load_snapshot(file.path), weft::DecodeError);
  CHECK(cs.kv_get("k") == "v");
  CHECK_FALSE(cs.kv_get("key"));

  std::ofstream(file.path, std::ios::binary | std::ios::trunc) << "not a snapshot at all";
  CHECK_THAT(message_of<weft::DecodeError>([&] { cs.load_snapshot(file.path); }),
             Catch::Contains("bad magic"));
}
