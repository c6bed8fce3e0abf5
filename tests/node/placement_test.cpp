// Placement groups (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD) reserved in the
// control store's view, and pick_node for single tasks and actors.
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "weft/error.hpp"
#include "weft/node/control_store.hpp"
#include "weft/node/placement.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using weft::PlacementStrategy;

namespace {

const weft::ControlStore::Clock::time_point start{};

// A store with one alive node per entry, with that many cpus; ids 1, 2, ...
weft::ControlStore cluster(std::initializer_list<double> cpus) {
  weft::ControlStore cs;
  std::uint16_t port = 7000;
  for (double c : cpus) {
    cs.register_node({.host = "127.0.0.1", .port = port++, .totals = {.cpu = c, .gpu = 0}}, start);
  }
  return cs;
}

std::vector<weft::Resources> cpus(std::initializer_list<double> amounts) {
  std::vector<weft::Resources> out;
  for (double a : amounts) out.push_back({.cpu = a});
  return out;
}

double free_cpu(const weft::ControlStore& cs, weft::NodeId id) {
  return cs.node(id)->load.available.cpu;
}

std::string infeasible_message(weft::ControlStore& cs, PlacementStrategy s,
                               const std::vector<weft::Resources>& bundles) {
  try {
    cs.create_placement_group(s, bundles);
  } catch (const weft::InfeasibleError& e) {
    return e.what();
  }
  FAIL("create_placement_group did not throw InfeasibleError");
  return {};
}

std::size_t distinct(const std::vector<weft::NodeId>& nodes) {
  return std::set<weft::NodeId>(nodes.begin(), nodes.end()).size();
}

}  // namespace

TEST_CASE("PACK puts every bundle on one node when one has room for all") {
  auto cs = cluster({4, 8, 4});
  const auto g = cs.create_placement_group(PlacementStrategy::pack, cpus({2, 2, 2}));
  CHECK(g.bundle_nodes == std::vector<weft::NodeId>{2, 2, 2});
  CHECK(free_cpu(cs, 2) == 2);
  CHECK(free_cpu(cs, 1) == 4);
}

TEST_CASE("PACK spreads over as few nodes as it must when no node takes every bundle") {
  auto cs = cluster({4, 4, 4});
  const auto g = cs.create_placement_group(PlacementStrategy::pack, cpus({2, 2, 2, 2}));
  CHECK(distinct(g.bundle_nodes) == 2);
  CHECK(free_cpu(cs, 1) + free_cpu(cs, 2) + free_cpu(cs, 3) == 4);
}

TEST_CASE("PACK fails naming the bundle that fits nowhere") {
  auto cs = cluster({4, 4});
  const auto msg = infeasible_message(cs, PlacementStrategy::pack, cpus({2, 5}));
  CHECK_THAT(msg, Catch::Contains("PACK"));
  CHECK_THAT(msg, Catch::Contains("bundle 1 {cpu: 5}"));
}

TEST_CASE("SPREAD puts bundles on distinct nodes when there are enough") {
  auto cs = cluster({4, 4, 4});
  const auto g = cs.create_placement_group(PlacementStrategy::spread, cpus({1, 1, 1}));
  CHECK(distinct(g.bundle_nodes) == 3);
}

TEST_CASE("SPREAD reuses nodes when there are more bundles than nodes") {
  auto cs = cluster({4, 4});
  const auto g = cs.create_placement_group(PlacementStrategy::spread, cpus({1, 1, 1, 1}));
  CHECK(distinct(g.bundle_nodes) == 2);
  CHECK(free_cpu(cs, 1) == 2);
  CHECK(free_cpu(cs, 2) == 2);
}

TEST_CASE("SPREAD fails when a bundle fits on no node") {
  auto cs = cluster({2, 2});
  const auto msg = infeasible_message(cs, PlacementStrategy::spread, cpus({2, 2, 1}));
  CHECK_THAT(msg, Catch::Contains("SPREAD"));
  CHECK_THAT(msg, Catch::Contains("{cpu: 1}"));
}

TEST_CASE("STRICT_PACK puts every bundle on one node") {
  auto cs = cluster({2, 6});
  const auto g = cs.create_placement_group(PlacementStrategy::strict_pack, cpus({3, 2}));
  CHECK(g.bundle_nodes == std::vector<weft::NodeId>{2, 2});
  CHECK(free_cpu(cs, 2) == 1);
}

TEST_CASE("STRICT_PACK fails when no single node takes all bundles even if the cluster could") {
  auto cs = cluster({4, 4});
  const auto msg = infeasible_message(cs, PlacementStrategy::strict_pack, cpus({3, 3}));
  CHECK_THAT(msg, Catch::Contains("STRICT_PACK"));
  CHECK_THAT(msg, Catch::Contains("{cpu: 6}"));
}

TEST_CASE("STRICT_SPREAD puts each bundle on a node of its own") {
  auto cs = cluster({2, 2, 2});
  const auto g = cs.create_placement_group(PlacementStrategy::strict_spread, cpus({1, 1, 1}));
  CHECK(distinct(g.bundle_nodes) == 3);
}

TEST_CASE("STRICT_SPREAD with more bundles than alive nodes fails") {
  auto cs = cluster({8, 8, 8});
  cs.mark_node_dead(3);
  const auto msg = infeasible_message(cs, PlacementStrategy::strict_spread, cpus({1, 1, 1}));
  CHECK_THAT(msg, Catch::Contains("STRICT_SPREAD"));
  CHECK_THAT(msg, Catch::Contains("3 distinct nodes but only 2"));
}

TEST_CASE("STRICT_SPREAD finds an assignment where a greedy choice would block a bundle") {
  // Bundle 0 (placed first, being the larger share) fits on both nodes and
  // goes to node 1 by id; bundle 1 needs node 1's disk, so bundle 0 must move.
  weft::ControlStore cs;
  cs.register_node({.port = 7000, .totals = {.cpu = 4, .custom = {{"disk", 100}}}}, start);
  cs.register_node({.port = 7001, .totals = {.cpu = 4}}, start);
  const auto g = cs.create_placement_group(PlacementStrategy::strict_spread,
                                           {{.cpu = 4}, {.cpu = 0, .custom = {{"disk", 1}}}});
  CHECK(g.bundle_nodes == std::vector<weft::NodeId>{2, 1});
}

TEST_CASE("a placement group that fails reserves nothing") {
  auto cs = cluster({4, 4});
  const auto version = cs.view().version;
  // The first two bundles would fit; the third fits nowhere.
  CHECK_THROWS_AS(cs.create_placement_group(PlacementStrategy::spread, cpus({3, 3, 3})),
                  weft::InfeasibleError);
  CHECK(free_cpu(cs, 1) == 4);
  CHECK(free_cpu(cs, 2) == 4);
  CHECK(cs.view().version == version);
  CHECK(cs.placement_groups().empty());
}

TEST_CASE("an empty placement group or an empty bundle is a usage error") {
  auto cs = cluster({4});
  CHECK_THROWS_AS(cs.create_placement_group(PlacementStrategy::pack, {}), weft::UsageError);
  CHECK_THROWS_AS(cs.create_placement_group(PlacementStrategy::pack, {{.cpu = 0}}),
                  weft::UsageError);
}

TEST_CASE("removing a placement group frees its resources") {
  auto cs = cluster({4, 4});
  const auto g = cs.create_placement_group(PlacementStrategy::strict_spread, cpus({4, 4}));
  CHECK(free_cpu(cs, 1) == 0);
  CHECK_THROWS_AS(cs.create_placement_group(PlacementStrategy::pack, cpus({1})),
                  weft::InfeasibleError);
  const auto version = cs.view().version;
  CHECK(cs.remove_placement_group(g.id));
  CHECK(cs.view().version > version);
  CHECK(free_cpu(cs, 1) == 4);
  CHECK(free_cpu(cs, 2) == 4);
  CHECK_FALSE(cs.remove_placement_group(g.id));
  CHECK(cs.create_placement_group(PlacementStrategy::strict_pack, cpus({4})).id > g.id);
}

TEST_CASE("the view lists the live placement groups and the last group id handed out") {
  auto cs = cluster({4, 4});
  CHECK(cs.view().placement_groups.empty());
  CHECK(cs.view().last_group_id == 0);
  const auto g = cs.create_placement_group(PlacementStrategy::strict_spread, cpus({1, 2}));
  const auto h = cs.create_placement_group(PlacementStrategy::pack, cpus({1}));
  cs.remove_placement_group(g.id);
  const auto view = cs.view();
  REQUIRE(view.placement_groups.size() == 1);
  CHECK(view.placement_groups[0].id == h.id);
  CHECK(view.placement_groups[0].bundle_nodes == h.bundle_nodes);
  CHECK(view.placement_groups[0].bundles.at(0).cpu == 1);
  // Nodes tell a removed group (g) from one not heard of yet by this id.
  CHECK(view.last_group_id == h.id);
}

TEST_CASE("a heartbeat does not undo a reservation: reported loads exclude bundles") {
  auto cs = cluster({8});
  cs.create_placement_group(PlacementStrategy::pack, cpus({2}));
  // The node runs 1 cpu of work outside the group and knows nothing of the bundle.
  cs.heartbeat(1, {.available = {.cpu = 7}}, start + 1s);
  CHECK(free_cpu(cs, 1) == 5);
  // More reserved than the node reports free reads as nothing free, not negative.
  cs.heartbeat(1, {.available = {.cpu = 1}}, start + 2s);
  CHECK(free_cpu(cs, 1) == 0);
}

TEST_CASE("dead nodes take no bundles and their groups can be found") {
  auto cs = cluster({4, 4});
  const auto g = cs.create_placement_group(PlacementStrategy::strict_spread, cpus({1, 1}));
  cs.mark_node_dead(1);
  CHECK(cs.placement_groups_on_node(1) == std::vector<std::uint64_t>{g.id});
  const auto h = cs.create_placement_group(PlacementStrategy::spread, cpus({1, 1}));
  CHECK(h.bundle_nodes == std::vector<weft::NodeId>{2, 2});
}

TEST_CASE("hybrid keeps work on the local node while it has room") {
  auto cs = cluster({4, 4});
  cs.heartbeat(2, {.available = {.cpu = 1}}, start);
  CHECK(cs.pick_node({.cpu = 1}, weft::HybridStrategy{}, 2) == weft::NodeId{2});
}

TEST_CASE("hybrid goes to the least loaded fitting node when the local one is full") {
  auto cs = cluster({4, 4, 4});
  cs.heartbeat(1, {.available = {.cpu = 0}}, start);
  cs.heartbeat(2, {.available = {.cpu = 2}}, start);
  CHECK(cs.pick_node({.cpu = 1}, weft::HybridStrategy{}, 1) == weft::NodeId{3});
}

TEST_CASE("pick_node waits when a request fits a node in total but nowhere now") {
  auto cs = cluster({4, 4});
  cs.heartbeat(1, {.available = {.cpu = 1}}, start);
  cs.heartbeat(2, {.available = {.cpu = 1}}, start);
  CHECK_FALSE(cs.pick_node({.cpu = 2}, weft::HybridStrategy{}, 1));
  CHECK_FALSE(cs.pick_node({.cpu = 2}, weft::SpreadStrategy{}, 1));
}

TEST_CASE("a request larger than every node is infeasible") {
  auto cs = cluster({4, 4});
  CHECK_THROWS_AS(cs.pick_node({.cpu = 5}, weft::HybridStrategy{}, 1), weft::InfeasibleError);
  CHECK_THROWS_AS(cs.pick_node({.cpu = 1, .gpu = 1}, weft::SpreadStrategy{}, 1),
                  weft::InfeasibleError);
}

TEST_CASE("spread goes round-robin over the nodes that fit") {
  auto cs = cluster({4, 4, 4});
  cs.heartbeat(2, {.available = {.cpu = 0}}, start);
  std::vector<weft::NodeId> picks;
  for (int i = 0; i < 4; ++i) picks.push_back(*cs.pick_node({.cpu = 1}, weft::SpreadStrategy{}, 1));
  CHECK(picks == std::vector<weft::NodeId>{1, 3, 1, 3});
}

TEST_CASE("hard node affinity waits for its node and never goes elsewhere") {
  auto cs = cluster({4, 4});
  cs.heartbeat(2, {.available = {.cpu = 0}}, start);
  const weft::NodeAffinity to_2{.node = 2, .soft = false};
  CHECK_FALSE(cs.pick_node({.cpu = 1}, to_2, 1));
  cs.heartbeat(2, {.available = {.cpu = 4}}, start + 1s);
  CHECK(cs.pick_node({.cpu = 1}, to_2, 1) == weft::NodeId{2});
}

TEST_CASE("hard node affinity to a dead node is infeasible") {
  auto cs = cluster({4, 4});
  cs.mark_node_dead(2);
  CHECK_THROWS_AS(cs.pick_node({.cpu = 1}, weft::NodeAffinity{.node = 2}, 1),
                  weft::InfeasibleError);
}

TEST_CASE("soft node affinity falls back to another node") {
  auto cs = cluster({4, 4});
  cs.mark_node_dead(2);
  CHECK(cs.pick_node({.cpu = 1}, weft::NodeAffinity{.node = 2, .soft = true}, 1) ==
        weft::NodeId{1});
}

TEST_CASE("pick_node does not use resources reserved by placement groups") {
  auto cs = cluster({4, 4});
  cs.create_placement_group(PlacementStrategy::strict_pack, cpus({4}));
  const auto other = cs.placement_groups()[0].bundle_nodes[0] == 1 ? 2 : 1;
  for (weft::NodeId local : {1, 2}) {
    CHECK(cs.pick_node({.cpu = 2}, weft::HybridStrategy{}, local) == weft::NodeId(other));
  }
}

TEST_CASE("resource sets add, subtract and compare exactly in thousandths") {
  const weft::ResourceSet a({.cpu = 0.1, .gpu = 0, .custom = {{"disk", 2}}});
  auto sum = a + a + a;
  CHECK(sum.milli("cpu") == 300);
  CHECK((sum - a - a - a).empty());
  CHECK(weft::ResourceSet({.cpu = 1, .custom = {{"x", 0}}}) == weft::ResourceSet({.cpu = 1}));
  CHECK(a.to_string() == "{cpu: 0.1, disk: 2}");
  CHECK(weft::ResourceSet({.cpu = 0}).to_resources().cpu == 0);
  CHECK((weft::ResourceSet({.cpu = 1}) - weft::ResourceSet({.cpu = 2})).clamped().empty());
}
