// weft::ActorPool over actors on real worker processes: work spread over
// every node, and a node killed mid-run costs only the call it held.
#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::within;

namespace {

using Counters = std::vector<weft::ActorHandle<ClusterCounter>>;

// One counter on each of `nodes`, in that order.
weft::Task<Counters> counters_on(std::vector<weft::NodeId> nodes) {
  Counters counters;
  for (const weft::NodeId node : nodes) {
    weft::ActorOptions options;
    options.strategy = weft::NodeAffinity{node, false};
    counters.push_back(co_await weft::spawn<ClusterCounter>().options(options));
  }
  co_return counters;
}

// Adds one after `ms`: the counter's value says how many calls it served.
auto add_one_after(std::int64_t ms) {
  return [ms](const weft::ActorHandle<ClusterCounter>& c, int) {
    return c.call<&ClusterCounter::slow_add>(1, ms);
  };
}

}  // namespace

TEST_CASE("a pool over actors on two nodes spreads map over both, results in order") {
  LocalCluster cluster(3);
  const std::vector<weft::NodeId> nodes{cluster.worker_id(0), cluster.worker_id(1)};

  struct Seen {
    std::vector<int> results;
    std::vector<int> served, pids;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Counters counters = co_await counters_on(nodes);
    weft::ActorPool<ClusterCounter> pool(counters);
    // Each call adds its value, so a result is the counter's running total.
    auto add_value = [](const weft::ActorHandle<ClusterCounter>& c, int n) {
      return c.call<&ClusterCounter::slow_add>(n, std::int64_t{10});
    };
    std::vector<int> values;
    for (int i = 1; i <= 12; ++i) values.push_back(i);
    Seen s;
    s.results = co_await pool.map(add_value, values);
    for (const auto& c : counters) {
      s.served.push_back(co_await within(c.call<&ClusterCounter::value>()));
      s.pids.push_back(co_await within(c.call<&ClusterCounter::pid>()));
    }
    co_return s;
  });

  REQUIRE(seen.results.size() == 12);
  // Every value was added exactly once, on one of the two counters.
  CHECK(seen.served[0] > 0);
  CHECK(seen.served[1] > 0);
  CHECK(seen.served[0] + seen.served[1] == 78);
  // Results keep the input order: each is its counter's total after adding
  // the value, so it is at least the value itself.
  for (int i = 0; i < 12; ++i) CHECK(seen.results[static_cast<std::size_t>(i)] >= i + 1);
  CHECK(std::set<int>(seen.pids.begin(), seen.pids.end()) ==
        std::set<int>{cluster.worker(0).pid(), cluster.worker(1).pid()});
}

TEST_CASE("a node killed under a pool fails its one call, and the survivor serves the rest") {
  LocalCluster cluster(3);
  // The first actor, which takes the first (long) call, is on worker 1.
  const std::vector<weft::NodeId> nodes{cluster.worker_id(1), cluster.worker_id(0)};

  struct Seen {
    int died = 0, served = 0, other_errors = 0, survivor_total = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Counters counters = co_await counters_on(nodes);
    weft::ActorPool<ClusterCounter> pool(counters);
    pool.submit(add_one_after(20000), 0);                            // on worker 1, never finishes
    for (int i = 1; i <= 6; ++i) pool.submit(add_one_after(10), i);  // queued for worker 0
    cluster.kill_worker(1);
    Seen s;
    while (pool.has_next()) {
      try {
        co_await pool.get_next_unordered<int>(10s);
        ++s.served;
      } catch (const weft::ActorDiedError&) {
        ++s.died;
      } catch (...) {
        ++s.other_errors;
      }
    }
    // The dead actor left the pool: new work goes to the survivor.
    pool.submit(add_one_after(0), 7);
    co_await pool.get_next<int>(10s);
    s.survivor_total = co_await within(counters[1].call<&ClusterCounter::value>());
    co_return s;
  });

  CHECK(seen.died == 1);
  CHECK(seen.served == 6);
  CHECK(seen.other_errors == 0);
  CHECK(seen.survivor_total == 7);
}
