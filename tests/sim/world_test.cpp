// Whole clusters in the deterministic simulation (src/sim/world.hpp): the
// cluster tests' scenarios (tasks, actors, refs across nodes, a node's
// death re-running its tasks) under faults the seed picks, the invariants
// the world checks, and exact replay of a seed.
#include <catch2/catch.hpp>

#include <string>

#include "sim/workloads.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::sim::FaultSet;
using weft::sim::World;
using weft::sim::WorldOptions;

// 1, after `seconds` of simulated time.
weft::Task<int> sim_test_one_after(std::int64_t seconds) {
  co_await weft::sleep_for(std::chrono::seconds(seconds));
  co_return 1;
}
WEFT_REMOTE(sim_test_one_after);

namespace {

WorldOptions with(std::uint64_t seed, const char* faults,
                  std::chrono::milliseconds fault_every = std::chrono::milliseconds(150)) {
  WorldOptions o;
  o.seed = seed;
  o.faults = FaultSet::parse(faults);
  o.fault_interval = fault_every;
  return o;
}

// A seed that once failed (what it pinned is the test's name), with a fault
// every 5 ms of simulated time, as when it was found: it must pass now.
void regression(const char* workload, const char* faults, std::uint64_t seed) {
  const auto options = with(seed, faults, std::chrono::milliseconds(5));
  const auto expected = weft::sim::fault_free_outcome(options, workload);
  const auto r = weft::sim::run_seed(options, workload, expected);
  INFO(r.failure << "\n" << r.trace);
  REQUIRE(r.ok);
}

// Runs `workload` for seeds [first, first + n) with `faults`; every one must pass.
void sweep(const char* workload, const char* faults, std::uint64_t first, std::uint64_t n) {
  const auto expected = weft::sim::fault_free_outcome(with(first, "none"), workload);
  for (std::uint64_t seed = first; seed < first + n; ++seed) {
    const auto r = weft::sim::run_seed(with(seed, faults), workload, expected);
    INFO(r.failure << "\n" << r.trace);
    REQUIRE(r.ok);
  }
}

}  // namespace

TEST_CASE("a fault-free simulated cluster gives every workload its expected results") {
  World world(with(1, "none"));
  REQUIRE(world.size() == 3);

  const auto tasks = weft::sim::run_workload(world, "tasks");
  REQUIRE(tasks.entries.size() == 1000);
  for (std::size_t i = 0; i < tasks.entries.size(); ++i) {
    REQUIRE(tasks.entries[i].value == static_cast<std::int64_t>(i * i));
  }

  const auto actors = weft::sim::run_workload(world, "actors");
  REQUIRE(actors.entries.size() == 150);
  // Three counters called in turn: each sees 1, 2, 3, ... in call order.
  for (std::size_t i = 0; i < actors.entries.size(); ++i) {
    REQUIRE(actors.entries[i].value == static_cast<std::int64_t>(i / 3 + 1));
  }
}

TEST_CASE("a simulated run spans simulated time, not wall time") {
  World world(with(2, "none"));
  const auto before = world.elapsed();
  world.run_for(30s);
  REQUIRE(world.elapsed() - before >= 30s);
  // The heartbeats kept every node alive through it.
  const auto view = world.head().node().cluster()->view();
  std::size_t alive = 0;
  for (const auto& n : view.nodes) alive += n.alive ? 1 : 0;
  REQUIRE(alive == 3);
}

TEST_CASE("the same seed replays the same steps") {
  const auto expected = weft::sim::fault_free_outcome(with(7, "none"), "mixed");
  const auto a = weft::sim::run_seed(with(7, "all"), "mixed", expected);
  const auto b = weft::sim::run_seed(with(7, "all"), "mixed", expected);
  REQUIRE(a.ok);
  REQUIRE(a.steps == b.steps);
  REQUIRE(a.simulated == b.simulated);
  const auto c = weft::sim::run_seed(with(8, "all"), "mixed", expected);
  REQUIRE(c.steps != a.steps);
}

TEST_CASE("tasks across simulated nodes survive dropped connections and delays") {
  sweep("tasks", "delay,drop", 100, 4);
}

TEST_CASE("refs across simulated nodes survive dropped connections and partitions") {
  sweep("refs", "delay,drop,partition", 200, 4);
}

TEST_CASE("calls to simulated actors stay in order and never overlap under faults") {
  sweep("actors", "delay,drop,slow", 300, 4);
}

TEST_CASE("a simulated worker's death re-runs its tasks elsewhere") {
  sweep("node_death", "delay", 400, 3);
}

TEST_CASE("the mixed workload passes under every fault") { sweep("mixed", "all", 500, 6); }

TEST_CASE("a wait longer than the hang limit is reported as a hang, with the trace") {
  auto options = with(4, "none");
  options.hang_limit = 5s;
  World world(options);
  try {
    static_cast<void>(world.head().run([](weft::Runtime&) -> weft::Task<int> {
      co_return co_await weft::submit<&sim_test_one_after>(std::int64_t{60});
    }));
    FAIL("the driver's wait was not reported");
  } catch (const weft::sim::SimulationFailure& f) {
    REQUIRE(std::string(f.what()).find("hang") != std::string::npos);
    REQUIRE(f.trace().find("reactor handler") != std::string::npos);
  }
}

// --- regression seeds ----------------------------------------------------------

TEST_CASE("regression: a pull whose connection drops is made again over a new link") {
  regression("refs", "drop", 20);
  regression("refs", "drop", 6);
}

TEST_CASE("regression: a connection dropped mid-pull never reaches the user as KJ's text") {
  regression("refs", "drop", 14);
}

TEST_CASE("regression: results held for an owner are announced again after a broken link") {
  regression("refs", "drop", 8);
}

TEST_CASE("regression: a result whose holder dies before it is copied is made again") {
  regression("refs", "all", 5);
  regression("refs", "all", 24);
}

TEST_CASE("regression: a crashed node's resets held by a partition arrive when it heals") {
  regression("refs", "all", 1);
  regression("refs", "all", 4);
}

TEST_CASE("regression: an actor whose node dies while it is created is dead, typed") {
  regression("mixed", "all", 2);
  regression("mixed", "all", 7);
}

TEST_CASE("regression: a worker cut off from the head stops, and what it held goes with it") {
  regression("mixed", "all", 50);
  regression("mixed", "all", 53);
}
