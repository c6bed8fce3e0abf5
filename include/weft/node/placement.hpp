// Placement: where bundles of a placement group and single tasks or actors go,
// decided from the head's view of the nodes (DESIGN §4). Pure functions over
// a list of candidate nodes; the ControlStore (control_store.hpp) feeds them
// and keeps the reservations they produce.
//
//   std::vector<weft::PlacementCandidate> nodes = ...;   // alive nodes, by id
//   auto where = weft::place_bundles(weft::PlacementStrategy::strict_spread,
//                                    {weft::ResourceSet({.cpu = 2}), ...}, nodes);
//   auto node = weft::pick_node(weft::ResourceSet({.cpu = 1}), weft::SpreadStrategy{},
//                               /*local=*/1, nodes, cursor);
//
// Every choice is deterministic: ties go to the less loaded node, then the
// smaller id, so tests (and simulated clusters) can predict placements.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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
  ResourceSet available;  // free now, after placement group reservations
  ResourceSet total;
  std::uint64_t tasks_in_flight = 0;  // breaks ties between equally loaded nodes
};

// How busy a node is: the largest used fraction over the resources it has
// (0 idle, 1 full). "Least loaded" below means the smallest load, then the
// fewest tasks in flight, then the smallest id.
double load_of(const PlacementCandidate& node) noexcept;

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

// Chooses a node for one task or actor needing `demand`, or nullopt when a
// node could take it but none has room now (the caller queues and retries).
// Throws InfeasibleError when no candidate could ever take it (its total is
// too small), or when a hard NodeAffinity names a node that is not a
// candidate (dead or unknown).
//   HybridStrategy: `local` while it has room, else the least loaded fitting node.
//   SpreadStrategy: round-robin by id over fitting nodes; `spread_cursor` is the
//     last node chosen and is advanced (keep one per caller, starting at 0).
//   NodeAffinity: that node if it has room; soft falls back to hybrid,
//     hard waits for it.
std::optional<NodeId> pick_node(const ResourceSet& demand, const SchedulingStrategy& strategy,
                                NodeId local, std::span<const PlacementCandidate> nodes,
                                NodeId& spread_cursor);

}  // namespace weft
