// Placement: the one scheduler. Where a task, an actor or the bundles of a
// placement group go, decided by pure functions over a snapshot of the
// cluster (DESIGN §4): per alive node its resources (total and available),
// its load (tasks in flight there, counting what the deciding node has sent
// and not heard back), and for one task the bytes of each argument each node
// holds. A node's Cluster feeds pick_node for every task and actor it places;
// the head's ControlStore (control_store.hpp) feeds place_bundles and keeps
// the reservations they produce.
//
//   std::vector<weft::PlacementCandidate> nodes = ...;   // alive nodes
//   auto where = weft::place_bundles(weft::PlacementStrategy::strict_spread,
//                                    {weft::ResourceSet({.cpu = 2}), ...}, nodes);
//   const weft::ArgumentCopies big{.bytes = 64 << 20, .nodes = {3}};
//   weft::NodeId cursor = 0;  // one per deciding node, for SpreadStrategy
//   auto node = weft::pick_node({.demand = weft::ResourceSet({.cpu = 1}), .local = 1,
//                                .arguments = {&big, 1}}, nodes, cursor);
//
// Every choice is deterministic: ties go to the less loaded node, then the
// one with fewer tasks in flight, then the smaller id, so tests (and
// simulated clusters) can predict placements. Pure: any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/object/object_id.hpp"
#include "weft/remote/options.hpp"
#include "weft/remote/placement_group.hpp"

namespace weft {

// Resource amounts by name ("cpu", "gpu", "memory", custom names), kept in
// thousandths as ResourcePool does, so fractional amounts add up exactly and
// comparisons are exact. Zero amounts are not stored, so two sets holding
// the same amounts compare equal however they were built. Amounts may go
// negative after subtraction; clamped() drops those.
class ResourceSet {
 public:
  ResourceSet() = default;
  explicit ResourceSet(const Resources& r);

  // Natural units; a resource the set lacks is 0 (also cpu, whose
  // Resources default is 1).
  Resources to_resources() const;

  // Every amount here is at most the same amount in `available`.
  bool fits_in(const ResourceSet& available) const noexcept;
  bool empty() const noexcept { return milli_.empty(); }
  // Thousandths of `name`, 0 when absent.
  std::int64_t milli(std::string_view name) const noexcept;
  const std::map<std::string, std::int64_t, std::less<>>& amounts() const noexcept {
    return milli_;
  }

  ResourceSet& operator+=(const ResourceSet& other);
  ResourceSet& operator-=(const ResourceSet& other);
  friend ResourceSet operator+(ResourceSet a, const ResourceSet& b) { return a += b; }
  friend ResourceSet operator-(ResourceSet a, const ResourceSet& b) { return a -= b; }
  // The same set with negative amounts removed (read as 0).
  ResourceSet clamped() const;

  // "{cpu: 2, gpu: 0.5}", "{}" when empty; for error messages and logs.
  std::string to_string() const;

  friend bool operator==(const ResourceSet&, const ResourceSet&) = default;

 private:
  void add(const std::string& name, std::int64_t milli);

  std::map<std::string, std::int64_t, std::less<>> milli_;
};

// One alive node as placement sees it.
struct PlacementCandidate {
  NodeId id = 0;
  ResourceSet available;  // free as last reported, after placement group reservations
  ResourceSet total;
  // Tasks queued or running there. The deciding node counts what it has sent
  // there and not heard back, so a burst of submissions sees its own effect
  // before the next report arrives.
  std::uint64_t tasks_in_flight = 0;
};

// How busy a node is: the largest used fraction over the resources it has,
// or its tasks in flight per whole cpu (at least one), whichever is larger
// (0 idle, 1 full, more while work queues there). "Least loaded" below means the smallest load,
// then the fewest tasks in flight, then the smallest id.
double load_of(const PlacementCandidate& node) noexcept;

// Whether `node` can start `demand` now: it fits in what is available and
// the node has fewer tasks in flight than whole cpus (at least one).
bool has_room(const PlacementCandidate& node, const ResourceSet& demand) noexcept;

// Chooses a node for every bundle (result[i] holds bundles[i]) against the
// candidates' available resources, bundles on one node adding up. Throws
// InfeasibleError naming the strategy and the bundle (or total) that did not
// fit; UsageError for an empty group or a bundle asking for nothing.
//   pack: all on the least loaded node that takes them together; else first
//     fit, largest bundles first, opening the least loaded fitting node
//     only when no node already used has room.
//   spread: each bundle (largest first) on the least loaded fitting node the
//     group does not use yet; else the fitting used node with fewest of the
//     group's bundles.
//   strict_pack: all on the least loaded node that takes them together.
//   strict_spread: a distinct node per bundle, found by bipartite matching, so
//     it fails only when no assignment exists.
std::vector<NodeId> place_bundles(PlacementStrategy strategy, std::span<const ResourceSet> bundles,
                                  std::span<const PlacementCandidate> nodes);

// One ref argument (top-level or named inside an argument's value) of the
// work being placed: the size of its value and the nodes known to hold a
// copy. Wherever the work runs, it copies the value from one of them.
struct ArgumentCopies {
  std::uint64_t bytes = 0;
  std::vector<NodeId> nodes;
};

// A node holding at least this many of a task's argument bytes draws the
// task (if it has room) away from the local node: below it, copying costs
// less than a millisecond on a loopback link and load matters more.
inline constexpr std::uint64_t locality_min_bytes = 1 << 20;

// One task or actor to place.
struct PlacementRequest {
  ResourceSet demand;
  SchedulingStrategy strategy = HybridStrategy{};
  // Placed in a placement group bundle held by this node (0: none): it goes
  // there whatever the strategy, and that node's scheduler holds it to the bundle.
  NodeId bundle_node = 0;
  NodeId local = 0;  // the deciding node
  std::span<const ArgumentCopies> arguments;
  // For errors: "task" and its name, say ("task partial_pi"); name may be empty.
  std::string_view what = "the request";
  std::string_view name;
};

// Chooses the node for one task or actor. It always names a node: one that
// is full queues the work until it has room. Throws InfeasibleError, naming
// the request, when no candidate could ever take it (its total is too
// small), or when a hard NodeAffinity or the bundle names a node that is not
// a candidate (dead or unknown).
//   HybridStrategy, among the nodes that fit in total: the node with room
//     that holds the most argument bytes, when that is at least
//     locality_min_bytes (ties: `local`, then the least loaded); else
//     `local` while it has room; else the least loaded node with room; else
//     (everyone full) the least loaded node.
//   SpreadStrategy: round-robin by id: the first node after `spread_cursor`
//     (wrapping around) that has room, else the first that fits in total;
//     `spread_cursor` becomes the node chosen (keep one per deciding node,
//     starting at 0).
//   NodeAffinity: that node while it has room. Otherwise soft falls back to
//     hybrid; hard goes there anyway and queues, or throws when that node is
//     dead or too small.
NodeId pick_node(const PlacementRequest& request, std::span<const PlacementCandidate> nodes,
                 NodeId& spread_cursor);

}  // namespace weft
