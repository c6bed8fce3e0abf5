// Placement groups (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD) reserved in the
// control store's view, and pick_node for single tasks and actors over
// snapshots of the cluster, arguments held on other nodes included.
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

const weft::detail::ControlStore::Clock::time_point start{};

// A store with one alive node per entry, with that many cpus; ids 1, 2, ...
weft::detail::ControlStore cluster(std::initializer_list<double> cpus) {
  weft::detail::ControlStore cs;
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

double free_cpu(const weft::detail::ControlStore& cs, weft::NodeId id) {
  return cs.node(id)->load.available.cpu;
}

std::string infeasible_message(weft::detail::ControlStore& cs, PlacementStrategy s,
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
  weft::detail::ControlStore cs;
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

// --- pick_node: one task or actor over a snapshot ------------------------------

namespace {

constexpr std::uint64_t mib = 1 << 20;

// A node with `cpu` cpus of which `free` are available, and `in_flight` tasks.
weft::PlacementCandidate node(weft::NodeId id, double cpu, double free,
                              std::uint64_t in_flight = 0) {
  return {.id = id,
          .available = weft::ResourceSet({.cpu = free}),
          .total = weft::ResourceSet({.cpu = cpu}),
          .tasks_in_flight = in_flight};
}

const weft::ResourceSet one_cpu({.cpu = 1});

// pick_node for one cpu from node 1 (unless the request says otherwise).
weft::NodeId pick(const std::vector<weft::PlacementCandidate>& nodes,
                  weft::PlacementRequest request = {.demand = one_cpu, .local = 1}) {
  weft::NodeId cursor = 0;
  return weft::pick_node(request, nodes, cursor);
}

std::string infeasible(const std::vector<weft::PlacementCandidate>& nodes,
                       const weft::PlacementRequest& request) {
  try {
    pick(nodes, request);
  } catch (const weft::InfeasibleError& e) {
    return e.what();
  }
  FAIL("pick_node did not throw InfeasibleError");
  return {};
}

// Hybrid from node 1 for one cpu, reading `args`.
weft::PlacementRequest reading(const std::vector<weft::ArgumentCopies>& args) {
  return {.demand = one_cpu, .local = 1, .arguments = args};
}

}  // namespace

TEST_CASE("hybrid keeps work on the local node while it has room") {
  CHECK(pick({node(1, 4, 1, 3), node(2, 4, 4)}) == 1);
}

TEST_CASE("hybrid goes to the least loaded node with room when the local one is full") {
  // Node 1 runs as many tasks as it has cpus; node 2 reports half its cpus busy.
  CHECK(pick({node(1, 4, 0, 4), node(2, 4, 2, 2), node(3, 4, 3, 1)}) == 3);
  // Room is counted in tasks too: node 3 looks free but has its one slot taken.
  CHECK(pick({node(1, 2, 2, 2), node(2, 4, 2, 2), node(3, 1, 1, 1)}) == 2);
}

TEST_CASE("hybrid counts tasks in flight, so a burst spreads before the next report") {
  // Every node reports itself idle; the deciding node adds what it sends.
  std::vector<weft::PlacementCandidate> nodes{node(1, 2, 2), node(2, 1, 1), node(3, 1, 1)};
  std::vector<weft::NodeId> picks;
  for (int i = 0; i < 7; ++i) {
    const weft::NodeId chosen = pick(nodes);
    picks.push_back(chosen);
    for (auto& n : nodes) n.tasks_in_flight += n.id == chosen ? 1 : 0;
  }
  // Local while it has room, then the others; once all are full, the least
  // loaded (per cpu), fewest tasks first.
  CHECK(picks == std::vector<weft::NodeId>{1, 1, 2, 3, 2, 3, 1});
}

TEST_CASE("hybrid with every node full queues on the least loaded one") {
  CHECK(pick({node(1, 2, 0, 6), node(2, 4, 0, 5), node(3, 4, 0, 8)}) == 2);
}

TEST_CASE("a request larger than every node is infeasible, naming it") {
  const auto msg = infeasible(
      {node(1, 4, 4), node(2, 4, 4)},
      {.demand = weft::ResourceSet({.cpu = 5}), .local = 1, .what = "task", .name = "big"});
  CHECK_THAT(msg, Catch::Contains("task big can never run"));
  CHECK_THAT(msg, Catch::Contains("{cpu: 5}"));
  CHECK_THAT(msg, Catch::Contains("no alive node has that much in total"));
  CHECK_THROWS_AS(pick({node(1, 4, 4)}, {.demand = weft::ResourceSet({.cpu = 1, .gpu = 1}),
                                         .strategy = weft::SpreadStrategy{},
                                         .local = 1}),
                  weft::InfeasibleError);
}

TEST_CASE("spread goes round-robin over the nodes with room") {
  const std::vector<weft::PlacementCandidate> nodes{node(1, 4, 4), node(2, 4, 0), node(3, 4, 4)};
  weft::NodeId cursor = 0;
  std::vector<weft::NodeId> picks;
  for (int i = 0; i < 4; ++i) {
    picks.push_back(weft::pick_node(
        {.demand = one_cpu, .strategy = weft::SpreadStrategy{}, .local = 1}, nodes, cursor));
  }
  CHECK(picks == std::vector<weft::NodeId>{1, 3, 1, 3});
  CHECK(cursor == 3);
}

TEST_CASE("spread with every node full still goes round-robin over the nodes that fit") {
  const std::vector<weft::PlacementCandidate> nodes{node(1, 4, 0, 4), node(2, 1, 0, 1),
                                                    node(3, 4, 0, 4)};
  weft::NodeId cursor = 2;
  std::vector<weft::NodeId> picks;
  for (int i = 0; i < 3; ++i) {
    picks.push_back(weft::pick_node(
        {.demand = one_cpu, .strategy = weft::SpreadStrategy{}, .local = 1}, nodes, cursor));
  }
  CHECK(picks == std::vector<weft::NodeId>{3, 1, 2});
  // A node too small in total is skipped.
  cursor = 0;
  const weft::PlacementRequest two{
      .demand = weft::ResourceSet({.cpu = 2}), .strategy = weft::SpreadStrategy{}, .local = 1};
  CHECK(weft::pick_node(two, nodes, cursor) == 1);
  CHECK(weft::pick_node(two, nodes, cursor) == 3);
  CHECK(weft::pick_node(two, nodes, cursor) == 1);
}

TEST_CASE("hard node affinity goes to its node even when it is full") {
  const weft::PlacementRequest to_2{
      .demand = one_cpu, .strategy = weft::NodeAffinity{.node = 2}, .local = 1};
  CHECK(pick({node(1, 4, 4), node(2, 4, 0, 9)}, to_2) == 2);
  const auto msg =
      infeasible({node(1, 4, 4), node(2, 1, 1)}, {.demand = weft::ResourceSet({.cpu = 2}),
                                                  .strategy = weft::NodeAffinity{.node = 2},
                                                  .local = 1});
  CHECK_THAT(msg, Catch::Contains("pinned (hard node affinity) to node 2, which has {cpu: 1}"));
}

TEST_CASE("hard node affinity to a dead node is infeasible, naming the node") {
  const auto msg =
      infeasible({node(1, 4, 4), node(3, 4, 4)}, {.demand = one_cpu,
                                                  .strategy = weft::NodeAffinity{.node = 0x2a},
                                                  .local = 1,
                                                  .what = "task",
                                                  .name = "f"});
  CHECK_THAT(msg, Catch::Contains("task f cannot run"));
  CHECK_THAT(msg, Catch::Contains("pinned (hard node affinity) to node 2a, which is not alive"));
}

TEST_CASE("soft node affinity falls back when its node is dead or full") {
  const weft::PlacementRequest to_2{
      .demand = one_cpu, .strategy = weft::NodeAffinity{.node = 2, .soft = true}, .local = 1};
  CHECK(pick({node(1, 4, 4), node(2, 4, 4)}, to_2) == 2);
  CHECK(pick({node(1, 4, 4), node(3, 4, 4)}, to_2) == 1);     // 2 is dead
  CHECK(pick({node(1, 4, 4), node(2, 1, 1, 1)}, to_2) == 1);  // 2 is full
  CHECK(pick({node(1, 4, 0, 4), node(2, 1, 0, 1), node(3, 2, 2)}, to_2) == 3);
}

TEST_CASE("work placed in a bundle goes to the bundle's node whatever the strategy") {
  const std::vector<weft::PlacementCandidate> nodes{node(1, 4, 4), node(2, 4, 0, 4)};
  CHECK(pick(nodes, {.demand = one_cpu,
                     .strategy = weft::NodeAffinity{.node = 1},
                     .bundle_node = 2,
                     .local = 1}) == 2);
  const auto msg = infeasible(nodes, {.demand = one_cpu, .bundle_node = 7, .local = 1});
  CHECK_THAT(msg, Catch::Contains("placed in a placement group bundle on node 7"));
}

TEST_CASE("hybrid sends work to the node holding its large argument") {
  // An object put by a task on node 3: only node 3 holds it, the local node has room.
  const std::vector<weft::ArgumentCopies> args{{.bytes = 4 * mib, .nodes = {3}}};
  CHECK(pick({node(1, 4, 4), node(2, 4, 4), node(3, 4, 3, 1)}, reading(args)) == 3);
}

TEST_CASE("small arguments held elsewhere do not draw work from the local node") {
  const std::vector<weft::ArgumentCopies> args{{.bytes = mib / 2, .nodes = {3}},
                                               {.bytes = mib / 4, .nodes = {2}}};
  CHECK(pick({node(1, 4, 4), node(2, 4, 4), node(3, 4, 4)}, reading(args)) == 1);
}

TEST_CASE("argument bytes add up per node over the arguments") {
  // Neither argument reaches the threshold alone; on node 3 they do together.
  const std::vector<weft::ArgumentCopies> args{{.bytes = 600 << 10, .nodes = {3}},
                                               {.bytes = 600 << 10, .nodes = {2, 3}},
                                               {.bytes = 900 << 10, .nodes = {2}}};
  CHECK(pick({node(1, 4, 4), node(2, 4, 4), node(3, 4, 4)}, reading(args)) == 2);
  const std::vector<weft::ArgumentCopies> fewer{{.bytes = 600 << 10, .nodes = {3}},
                                                {.bytes = 600 << 10, .nodes = {2, 3}}};
  CHECK(pick({node(1, 4, 4), node(2, 4, 4), node(3, 4, 4)}, reading(fewer)) == 3);
}

TEST_CASE("a holder without room draws no work; the holder of the next most bytes does") {
  const std::vector<weft::ArgumentCopies> args{{.bytes = 8 * mib, .nodes = {2}},
                                               {.bytes = 2 * mib, .nodes = {3}}};
  CHECK(pick({node(1, 4, 4), node(2, 1, 0, 1), node(3, 4, 4)}, reading(args)) == 3);
  // With no holder that has room and the local node full, the least loaded wins.
  CHECK(pick({node(1, 4, 0, 4), node(2, 1, 0, 1), node(3, 1, 0, 1), node(4, 4, 4)},
             reading(args)) == 4);
}

TEST_CASE("locality ties go to the local node, then to the less loaded holder") {
  // The local node pulled a copy of node 2's object: staying costs nothing.
  const std::vector<weft::ArgumentCopies> here_too{{.bytes = 4 * mib, .nodes = {1, 2}}};
  CHECK(pick({node(1, 4, 4), node(2, 4, 4)}, reading(here_too)) == 1);
  // Full here: of two holders with room, the less loaded.
  const std::vector<weft::ArgumentCopies> two_holders{{.bytes = 4 * mib, .nodes = {1, 2, 3}}};
  CHECK(pick({node(1, 4, 0, 4), node(2, 4, 4, 2), node(3, 4, 4, 1), node(4, 4, 4)},
             reading(two_holders)) == 3);
}

TEST_CASE("load counts resources in use and tasks in flight per cpu") {
  CHECK(weft::load_of(node(1, 4, 4)) == 0);
  CHECK(weft::load_of(node(1, 4, 1)) == 0.75);
  CHECK(weft::load_of(node(1, 4, 4, 6)) == 1.5);    // reports lag; the tasks sent do not
  CHECK(weft::load_of(node(1, 0.5, 0.5, 1)) == 1);  // at least one slot
  CHECK(weft::has_room(node(1, 2, 2, 1), one_cpu));
  CHECK_FALSE(weft::has_room(node(1, 2, 2, 2), one_cpu));
  CHECK_FALSE(weft::has_room(node(1, 2, 0.5, 0), one_cpu));
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
