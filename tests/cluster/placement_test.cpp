// Placement groups across real node processes: bundles reserved on the
// nodes the strategy names, work placed into them, all-or-nothing
// reservation, and removal freeing what a group held.
#include <algorithm>
#include <set>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

std::set<weft::NodeId> node_ids(LocalCluster& cluster) {
  std::set<weft::NodeId> ids;
  for (const auto& n : cluster.view().nodes) ids.insert(n.info.id);
  return ids;
}

// The cpu every node of the cluster has (the smallest total).
double smallest_cpu(LocalCluster& cluster) {
  double cpu = 1e9;
  for (const auto& n : cluster.view().nodes) cpu = std::min(cpu, n.info.totals.cpu);
  return cpu;
}

// Whether creating a group of `bundles` is refused as infeasible.
weft::Task<bool> refused(std::vector<weft::Resources> bundles, weft::PlacementStrategy strategy) {
  bool infeasible = false;
  try {
    auto group = co_await weft::create_placement_group(std::move(bundles), strategy);
    co_await weft::remove_placement_group(group);
  } catch (const weft::InfeasibleError&) {
    infeasible = true;
  }
  co_return infeasible;
}

}  // namespace

TEST_CASE("a STRICT_SPREAD group has a bundle on every node, and its work runs there") {
  LocalCluster cluster(3);
  const auto ids = node_ids(cluster);
  REQUIRE(ids.size() == 3);

  struct Seen {
    std::vector<weft::NodeId> bundle_nodes;
    std::vector<int> task_pids;
    int actor_pid = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    const std::vector<weft::Resources> bundles(3, weft::Resources{.cpu = 0.5});
    auto group =
        co_await weft::create_placement_group(bundles, weft::PlacementStrategy::strict_spread);
    Seen s;
    s.bundle_nodes = group.bundle_nodes;
    for (std::size_t i = 0; i < 3; ++i) {
      const weft::TaskOptions in_bundle{.placement = group.bundle(i)};
      s.task_pids.push_back(co_await within(weft::submit<&cluster_pid>(in_bundle)));
    }
    const weft::ActorOptions actor_in_bundle{.placement = group.bundle(1)};
    auto counter = co_await weft::spawn<ClusterCounter>().options(actor_in_bundle);
    s.actor_pid = co_await within(counter.call<&ClusterCounter::pid>());
    co_await weft::remove_placement_group(group);
    co_return s;
  });

  REQUIRE(seen.bundle_nodes.size() == 3);
  CHECK(std::set<weft::NodeId>(seen.bundle_nodes.begin(), seen.bundle_nodes.end()) == ids);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(seen.task_pids.at(i) == cluster.pid_of(seen.bundle_nodes[i]));
  }
  CHECK(seen.actor_pid == cluster.pid_of(seen.bundle_nodes[1]));
}

TEST_CASE("a group that does not fit reserves nothing, and removal frees what a group held") {
  LocalCluster cluster(3);
  const double cpu = smallest_cpu(cluster);
  REQUIRE(cpu >= 1.0);
  const std::vector<weft::Resources> all_of_the_smallest(3, weft::Resources{.cpu = cpu});
  double head_cpu = 0;
  for (const auto& n : cluster.view().nodes) {
    if (n.info.id == cluster.head_id()) head_cpu = n.info.totals.cpu;
  }

  struct Outcome {
    bool second_refused = false;
    bool leftover_fits = false;
    bool refits_after_removal = false;
    bool too_many_refused = false;
  };
  const Outcome outcome = cluster.head().run([&](weft::Runtime&) -> weft::Task<Outcome> {
    Outcome o;
    auto full = co_await weft::create_placement_group(all_of_the_smallest,
                                                      weft::PlacementStrategy::strict_spread);
    // The smallest nodes are now fully reserved: the same group cannot fit,
    // and its failed attempt must not hold what it found on the bigger node.
    o.second_refused =
        co_await refused(all_of_the_smallest, weft::PlacementStrategy::strict_spread);
    const double left_on_head = head_cpu - cpu;
    if (left_on_head > 0) {
      const std::vector<weft::Resources> rest(1, weft::Resources{.cpu = left_on_head});
      o.leftover_fits = !co_await refused(rest, weft::PlacementStrategy::strict_pack);
    } else {
      o.leftover_fits = true;
    }
    // Four bundles on three nodes can never be strictly spread.
    const std::vector<weft::Resources> four(4, weft::Resources{.cpu = 0.1});
    o.too_many_refused = co_await refused(four, weft::PlacementStrategy::strict_spread);
    co_await weft::remove_placement_group(full);
    o.refits_after_removal =
        !co_await refused(all_of_the_smallest, weft::PlacementStrategy::strict_spread);
    co_return o;
  });

  CHECK(outcome.second_refused);
  CHECK(outcome.leftover_fits);
  CHECK(outcome.too_many_refused);
  CHECK(outcome.refits_after_removal);
}

TEST_CASE("a node other than the head creates and removes groups, its removals applied in order") {
  LocalCluster cluster(3);
  const double cpu = smallest_cpu(cluster);
  const weft::NodeId a = cluster.worker_id(0);
  // The driving task holds no cpu, so whole nodes are left to reserve.
  const weft::TaskOptions on_a_without_cpu{.resources = {.cpu = 0},
                                           .strategy = weft::NodeAffinity{a}};

  const bool both_placed = cluster.head().run([&](weft::Runtime&) -> weft::Task<bool> {
    co_return co_await within(
        weft::submit<&cluster_reserve_twice>(on_a_without_cpu, std::size_t{3}, cpu));
  });
  CHECK(both_placed);

  // Everything reserved from the worker was freed at the head.
  const bool fits_again = cluster.head().run([&](weft::Runtime&) -> weft::Task<bool> {
    const std::vector<weft::Resources> bundles(3, weft::Resources{.cpu = cpu});
    co_return !co_await refused(bundles, weft::PlacementStrategy::strict_spread);
  });
  CHECK(fits_again);
}
