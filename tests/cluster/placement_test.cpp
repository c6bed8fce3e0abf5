// Placement groups across real node processes: bundles reserved on the
// nodes the strategy names, work placed into them and held to the bundle's
// resources, other work kept off them, all-or-nothing reservation, and
// removal freeing what a group held.
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

// One bundle per node of the cluster, each holding all of that node's cpu
// (STRICT_SPREAD then puts each on its own node).
std::vector<weft::Resources> all_cpu_of_every_node(LocalCluster& cluster) {
  std::vector<weft::Resources> bundles;
  for (const auto& n : cluster.view().nodes) bundles.push_back({.cpu = n.info.totals.cpu});
  return bundles;
}

// The index of the bundle `group` put on `node`.
std::size_t bundle_on(const weft::PlacementGroup& group, weft::NodeId node) {
  const auto it = std::find(group.bundle_nodes.begin(), group.bundle_nodes.end(), node);
  return static_cast<std::size_t>(it - group.bundle_nodes.begin());
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
      // A bundle's work fits in the bundle: half a cpu.
      const weft::TaskOptions in_bundle{.resources = {.cpu = 0.5}, .placement = group.bundle(i)};
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

TEST_CASE("a bundle holding all of a worker's cpu keeps other work there out until removed") {
  LocalCluster cluster(2);
  const weft::NodeId worker = cluster.worker_id(0);
  const int worker_pid = cluster.pid_of(worker);
  const double worker_cpu = cluster.node_view(worker).info.totals.cpu;
  const auto bundles = all_cpu_of_every_node(cluster);

  struct Seen {
    int in_bundle_pid = 0;
    int actor_pid = 0;
    bool pinned_held_back = false;
    bool second_actor_refused = false;
    int pinned_pid = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    auto group =
        co_await weft::create_placement_group(bundles, weft::PlacementStrategy::strict_spread);
    const weft::BundlePlacement there = group.bundle(bundle_on(group, worker));
    const weft::TaskOptions in_bundle{.placement = there};
    // Runs once the worker holds the bundle, so what follows finds it there.
    s.in_bundle_pid = co_await within(weft::submit<&cluster_pid>(in_bundle));
    // An ordinary task pinned to the worker finds no cpu outside the bundle.
    std::vector<weft::ObjectRef<int>> pinned{weft::submit<&cluster_pid>(on(worker))};
    auto waited = co_await weft::wait(pinned, {.timeout = std::chrono::milliseconds(300)});
    s.pinned_held_back = waited.ready.empty();
    // An actor placed in the bundle takes its cpu there, leaving none for a second.
    const weft::ActorOptions actor_in_bundle{.resources = {.cpu = worker_cpu}, .placement = there};
    auto actor = co_await weft::spawn<ClusterCounter>().options(actor_in_bundle);
    s.actor_pid = co_await within(actor.call<&ClusterCounter::pid>());
    try {
      co_await weft::spawn<ClusterCounter>().options(actor_in_bundle);
    } catch (const std::exception& e) {
      s.second_actor_refused = std::string(e.what()).find("bundle") != std::string::npos;
    }
    weft::kill(actor);  // its cpu goes back to the worker as it is reaped
    co_await weft::remove_placement_group(group);
    s.pinned_pid = co_await within(std::move(pinned.front()));
    co_return s;
  });

  CHECK(seen.in_bundle_pid == worker_pid);
  CHECK(seen.pinned_held_back);
  CHECK(seen.actor_pid == worker_pid);
  CHECK(seen.second_actor_refused);
  CHECK(seen.pinned_pid == worker_pid);
}

TEST_CASE("a task asking more cpu than its bundle holds fails with InfeasibleError naming it") {
  LocalCluster cluster(2);
  const weft::NodeId worker = cluster.worker_id(0);

  const std::string refusal = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::string> {
    const std::vector<weft::Resources> halves(2, weft::Resources{.cpu = 0.5});
    auto group =
        co_await weft::create_placement_group(halves, weft::PlacementStrategy::strict_spread);
    const weft::TaskOptions too_big{.resources = {.cpu = 1},
                                    .placement = group.bundle(bundle_on(group, worker))};
    std::string what = "no InfeasibleError";
    try {
      co_await within(weft::submit<&cluster_pid>(too_big));
    } catch (const weft::InfeasibleError& e) {
      what = e.what();
    }
    co_await weft::remove_placement_group(group);
    co_return what + fmt::format(" [group {}, bundle {}]", group.id, bundle_on(group, worker));
  });

  INFO(refusal);
  CHECK(refusal.find("needs 1 cpu but bundle") != std::string::npos);
  CHECK(refusal.find("has 0.5 in total") != std::string::npos);
}
