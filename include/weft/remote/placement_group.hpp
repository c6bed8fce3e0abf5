// Placement groups: resources reserved across nodes, all at once, for a gang
// of tasks or actors (Ray's placement groups, DESIGN §4).
//
//   std::vector<weft::Resources> bundles(2, weft::Resources{.cpu = 1});
//   auto pg = co_await weft::create_placement_group(bundles,
//                                                   weft::PlacementStrategy::strict_spread);
//   weft::submit<&step>(weft::TaskOptions{.placement = pg.bundle(0)}, x);
//   co_await weft::spawn<Worker>().options({.placement = pg.bundle(1)});
//   co_await weft::remove_placement_group(pg);
//
// Creation reserves every bundle or none: a request that cannot be placed
// now throws InfeasibleError naming the strategy and what did not fit. The
// node holding a bundle keeps its resources for the work placed in it, and
// holds that work to them: it queues while the bundle is busy, and a request
// larger than the bundle fails with InfeasibleError naming the bundle.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "weft/core/task.hpp"
#include "weft/object/object_id.hpp"
#include "weft/remote/options.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

// Ray's placement group strategies.
enum class PlacementStrategy : std::uint8_t {
  pack,          // as few nodes as possible, one when it fits
  spread,        // distinct nodes where possible, else reuse
  strict_pack,   // all bundles on one node, or fail
  strict_spread  // every bundle on its own node, or fail
};

// "PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD", as Ray spells them.
std::string_view to_string(PlacementStrategy s) noexcept;

// A gang reservation: bundle i holds bundles[i] on node bundle_nodes[i].
struct PlacementGroup {
  std::uint64_t id = 0;
  PlacementStrategy strategy = PlacementStrategy::pack;
  std::vector<Resources> bundles;
  std::vector<NodeId> bundle_nodes;

  // Where to run a task or actor: in bundle i, on that bundle's node and
  // resources.
  BundlePlacement bundle(std::size_t i) const {
    return BundlePlacement{id, static_cast<std::uint32_t>(i), bundle_nodes.at(i)};
  }
};

// Reserves `bundles` across the cluster with `strategy`; completes once all
// are reserved. Throws InfeasibleError if they cannot be placed now.
inline Task<PlacementGroup> create_placement_group(
    std::vector<Resources> bundles, PlacementStrategy strategy = PlacementStrategy::pack) {
  return current_runtime().create_placement_group(strategy, std::move(bundles));
}

// Frees the group's reservations. Tasks and actors already running in it
// keep running (their resources return to their node as they end); tasks
// still queued in its bundles fail with InfeasibleError. As in Ray, the
// removal is asynchronous on nodes other than the head: it completes once
// sent, and this node's later requests see it done.
inline Task<void> remove_placement_group(const PlacementGroup& group) {
  return current_runtime().remove_placement_group(group.id);
}

}  // namespace weft
